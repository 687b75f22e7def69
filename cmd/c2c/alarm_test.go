package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/control"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/node"
)

// memberParity is the parity of the first byte of the clone's key in dir:
// c2c byzantine-sequencer --behaviour equivocate forks odd keys from even ones.
func memberParity(t *testing.T, dir string) byte {
	t.Helper()
	cert, err := node.ReadOwnerCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := netproto.MemberOf(cert.Clone)
	if err != nil {
		t.Fatal(err)
	}
	return m[0] % 2
}

// An equivocating sequencer process (the byzantine-sequencer test tool): the owner
// sees the fork alarm through c2c doc watch --until alarm (exit status 3)
// and c2c doc show, exports the fork evidence with c2c doc evidence, and
// c2c verify-evidence accepts it and refuses a tampered copy; then the
// owner recovers the document onto an honest sequencer with c2c doc move.
func TestForkAlarmProcesses(t *testing.T) { alarmProcesses(t, "equivocate", "fork") }

// The same for a sequencer that tampers with an entry: a misbehaviour
// alarm, and tamper evidence.
func TestTamperAlarmProcesses(t *testing.T) { alarmProcesses(t, "tamper", "tamper") }

// The same for a sequencer that forges a seq: a misbehaviour alarm, and
// forged-seq evidence.
func TestForgedSeqAlarmProcesses(t *testing.T) { alarmProcesses(t, "forge-seq", "forged-seq") }

func alarmProcesses(t *testing.T, behaviour, kind string) {
	if testing.Short() {
		t.Skip("builds and runs the c2c binary")
	}
	start := time.Now()
	bin := c2cBinary(t)
	root := t.TempDir()
	const ready = 60 * time.Second
	ctx := context.Background()

	if _, errOut, err := runC2C(bin, nil, "keygen", "--data", filepath.Join(root, "user")); err != nil {
		t.Fatalf("keygen: %v\n%s", err, errOut)
	}
	keyPath := filepath.Join(root, "user", "user.key")
	// Enroll clones until one has an even key and one an odd key, so the
	// fork separates them.
	dirs := map[byte]string{}
	for i := 0; len(dirs) < 2; i++ {
		dir := filepath.Join(root, "clone-"+string(rune('a'+i)))
		if _, errOut, err := runC2C(bin, nil, "enroll", "--key", keyPath, "--device", "dev-"+string(rune('a'+i)), "--clone-data", dir); err != nil {
			t.Fatalf("enroll: %v\n%s", err, errOut)
		}
		if _, ok := dirs[memberParity(t, dir)]; !ok {
			dirs[memberParity(t, dir)] = dir
		}
	}
	pDir := filepath.Join(root, "p1")
	prov := startProc(t, bin, "provider", nil, "provider", "--data", pDir, "--listen", loopback)
	waitFile(t, prov, filepath.Join(pDir, readyFile), ready)
	bootEnv := []string{"C2C_BOOTSTRAP=" + strings.Join(strings.Fields(waitFile(t, prov, filepath.Join(pDir, addrsFile), ready)), ",")}
	seqDir := filepath.Join(root, "seq")
	seq := startProc(t, bin, "sequencer", bootEnv, "byzantine-sequencer", "--data", seqDir, "--listen", "/ip4/127.0.0.1/tcp/0",
		"--behaviour", behaviour, "--at", "4")
	waitFile(t, seq, filepath.Join(seqDir, readyFile), ready)
	seqAddr := strings.Fields(waitFile(t, seq, filepath.Join(seqDir, addrsFile), ready))[0]
	var clients []*control.Client
	var procs []*proc
	for _, parity := range []byte{0, 1} {
		dir := dirs[parity]
		p := startProc(t, bin, filepath.Base(dir), bootEnv, "clone", "--data", dir, "--listen", loopback)
		waitFile(t, p, filepath.Join(dir, readyFile), ready)
		procs = append(procs, p)
		c := control.NewClient(filepath.Join(dir, control.SocketFile))
		defer c.Close()
		clients = append(clients, c)
	}
	owner := dirs[0]
	out, errOut, err := runC2C(bin, nil, "doc", "create", "--data", owner, "--sequencer", seqAddr)
	if err != nil {
		t.Fatalf("doc create: %v\n%s", err, errOut)
	}
	doc := strings.TrimSpace(out)
	cert, err := node.ReadOwnerCert(dirs[1])
	if err != nil {
		t.Fatal(err)
	}
	ownerCert, err := node.ReadOwnerCert(owner)
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := runC2C(bin, nil, "contact", "add", "--data", dirs[1], ownerCert.User.String()); err != nil {
		t.Fatalf("contact add: %v\n%s", err, errOut)
	}
	if _, errOut, err := runC2C(bin, nil, "doc", "invite", "--data", owner, doc, cert.User.String(), cert.Device); err != nil {
		t.Fatalf("doc invite: %v\n%s", err, errOut)
	}
	waitCond(t, ready, "the invited clone holds the key", func() bool {
		in, err := clients[1].Show(ctx, doc)
		return err == nil && in.Role == "writer" && in.Applied == in.Seq
	})
	watch := startProc(t, bin, "watch", nil, "doc", "watch", "--data", owner, doc, "--until", "alarm")
	// Both clones edit until the watcher exits on the alarm.
	var watchErr error
	waitCond(t, ready, "c2c doc watch exits on the fork alarm", func() bool {
		for _, c := range clients {
			_, _ = c.Edit(ctx, doc, control.EditRequest{Kind: control.EditAppend, Text: "x"})
		}
		select {
		case watchErr = <-watch.done:
			watch.done <- watchErr
			return true
		default:
			return false
		}
	})
	var exitErr *exec.ExitError
	if !errors.As(watchErr, &exitErr) || exitErr.ExitCode() != 3 {
		t.Fatalf("doc watch --until alarm: %v, want exit status 3", watchErr)
	}
	for i, dir := range []string{dirs[0], dirs[1]} {
		waitCond(t, ready, "the alarm in doc show", func() bool {
			out, _, err := runC2C(bin, nil, "doc", "show", "--data", dir, doc)
			return err == nil && strings.Contains(out, "ALARM:")
		})
		t.Logf("clone %d shows the alarm (%v)", i, time.Since(start).Round(time.Millisecond))
	}
	file := filepath.Join(root, "evidence")
	if out, errOut, err := runC2C(bin, nil, "doc", "evidence", "--data", owner, doc, "--out", file); err != nil || !strings.Contains(out, kind+" evidence") {
		t.Fatalf("doc evidence: %v\n%s%s", err, out, errOut)
	}
	seqPeer := seqAddr[strings.LastIndex(seqAddr, "/")+1:]
	out, errOut, err = runC2C(bin, nil, "verify-evidence", file, "--sequencer", seqPeer)
	if err != nil || !strings.Contains(out, "VALID: this file proves "+kind) {
		t.Fatalf("verify-evidence: %v\n%s%s", err, out, errOut)
	}
	t.Logf("c2c verify-evidence:\n%s", out)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x04
	if err := os.WriteFile(file+".bad", raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := runC2C(bin, nil, "verify-evidence", file+".bad"); err == nil || !strings.Contains(errOut, "REFUSED") {
		t.Fatalf("verify-evidence of a tampered copy: %v\n%s%s", err, out, errOut)
	}
	recoverProcesses(t, bin, bootEnv, root, owner, doc, dirs, clients)
	for _, p := range procs {
		p.stop(t)
	}
	seq.stop(t)
	prov.stop(t)
}

// recoverProcesses: the owner recovers the halted document onto an honest
// sequencer process with c2c doc move; both clones then show the alarm as
// recovered, edit again, and converge on the new sequencer's head.
func recoverProcesses(t *testing.T, bin string, bootEnv []string, root, owner, doc string, dirs map[byte]string, clients []*control.Client) {
	const ready = 60 * time.Second
	ctx := context.Background()
	seq2Dir := filepath.Join(root, "seq2")
	seq2 := startProc(t, bin, "sequencer2", bootEnv, "sequencer", "--data", seq2Dir, "--listen", "/ip4/127.0.0.1/tcp/0")
	defer seq2.stop(t)
	waitFile(t, seq2, filepath.Join(seq2Dir, readyFile), ready)
	seq2Addr := strings.Fields(waitFile(t, seq2, filepath.Join(seq2Dir, addrsFile), ready))[0]
	out, errOut, err := runC2C(bin, nil, "doc", "move", "--data", owner, doc, "--sequencer", seq2Addr)
	if err != nil || !strings.Contains(out, "takeover committed") {
		t.Fatalf("doc move on the halted document: %v\n%s%s", err, out, errOut)
	}
	t.Logf("c2c doc move: %s", strings.TrimSpace(out))
	var shown string
	for _, dir := range []string{dirs[0], dirs[1]} {
		waitCond(t, ready, "doc show lists the alarm as recovered", func() bool {
			shown, _, err = runC2C(bin, nil, "doc", "show", "--data", dir, doc)
			return err == nil && strings.Contains(shown, "recovered:") && !strings.Contains(shown, "ALARM:")
		})
	}
	var texts []string
	for i, c := range clients {
		r, err := c.Edit(ctx, doc, control.EditRequest{Kind: control.EditAppend, Text: fmt.Sprintf("<after recovery %d>", i)})
		if err != nil {
			t.Fatalf("clone %d edits after the recovery: %v (%+v)", i, err, r)
		}
	}
	waitCond(t, ready, "both clones converge on the new sequencer", func() bool {
		a, err1 := clients[0].Show(ctx, doc)
		b, err2 := clients[1].Show(ctx, doc)
		texts = []string{a.Text, b.Text}
		return err1 == nil && err2 == nil && !a.Pending && !b.Pending && a.Seq == b.Seq && a.Head == b.Head && a.Text == b.Text
	})
	for i := range clients {
		if n := strings.Count(texts[0], fmt.Sprintf("<after recovery %d>", i)); n != 1 {
			t.Fatalf("clone %d's edit after the recovery is in the text %d times: %q", i, n, texts[0])
		}
	}
	t.Logf("recovered; doc show:\n%s", shown)
}
