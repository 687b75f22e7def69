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
func TestForkAlarmProcesses(t *testing.T) { alarmProcesses(t, "equivocate", "fork", false) }

// A fork, a recovery onto a second equivocating sequencer, and its fork:
// the owner's clone keeps both fork proofs across a kill -9, c2c doc
// evidence --all writes both, c2c verify-evidence accepts both and
// refuses a tampered copy.
func TestSecondForkProcesses(t *testing.T) { alarmProcesses(t, "equivocate", "fork", true) }

// The same for a sequencer that tampers with an entry: a misbehaviour
// alarm, and tamper evidence.
func TestTamperAlarmProcesses(t *testing.T) { alarmProcesses(t, "tamper", "tamper", false) }

// The same for a sequencer that forges a seq: a misbehaviour alarm, and
// forged-seq evidence.
func TestForgedSeqAlarmProcesses(t *testing.T) { alarmProcesses(t, "forge-seq", "forged-seq", false) }

// alarmProcesses runs the alarm and the recovery; forkAgain makes the
// sequencer it recovers onto equivocate too (secondFork).
func alarmProcesses(t *testing.T, behaviour, kind string, forkAgain bool) {
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
	seq2, seq2Peer := recoverProcesses(t, bin, bootEnv, root, owner, doc, dirs, clients, forkAgain)
	if forkAgain {
		procs[0] = secondFork(t, bin, bootEnv, root, owner, doc, clients, procs[0], seqPeer, seq2Peer)
	}
	for _, p := range procs {
		p.stop(t)
	}
	seq2.stop(t)
	seq.stop(t)
	prov.stop(t)
}

// recoverProcesses: the owner recovers the halted document onto an honest
// sequencer process with c2c doc move (equivocating from seq 20 if
// forkAgain); both clones then show the alarm as recovered, edit again,
// and converge on the new sequencer's head. It returns the new
// sequencer's process and peer ID.
func recoverProcesses(t *testing.T, bin string, bootEnv []string, root, owner, doc string, dirs map[byte]string, clients []*control.Client, forkAgain bool) (*proc, string) {
	const ready = 60 * time.Second
	ctx := context.Background()
	seq2Dir := filepath.Join(root, "seq2")
	args := []string{"sequencer", "--data", seq2Dir, "--listen", "/ip4/127.0.0.1/tcp/0"}
	if forkAgain {
		args = []string{"byzantine-sequencer", "--data", seq2Dir, "--listen", "/ip4/127.0.0.1/tcp/0", "--behaviour", "equivocate", "--at", "20"}
	}
	seq2 := startProc(t, bin, "sequencer2", bootEnv, args...)
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
	return seq2, seq2Addr[strings.LastIndex(seq2Addr, "/")+1:]
}

// secondFork: both clones edit until the second sequencer's fork stops the
// owner's document; the owner's clone is killed (kill -9) and restarted;
// c2c doc evidence --all then writes a fork proof against each sequencer,
// c2c verify-evidence accepts each (with --sequencer, its own) and refuses
// the set when one is tampered with. It returns the restarted owner clone.
func secondFork(t *testing.T, bin string, bootEnv []string, root, owner, doc string, clients []*control.Client, ownerProc *proc, seqA, seqB string) *proc {
	const ready = 60 * time.Second
	ctx := context.Background()
	waitCond(t, ready, "the second sequencer's fork alarm on the owner's clone", func() bool {
		for _, c := range clients {
			_, _ = c.Edit(ctx, doc, control.EditRequest{Kind: control.EditAppend, Text: "y"})
		}
		out, _, err := runC2C(bin, nil, "doc", "show", "--data", owner, doc)
		return err == nil && strings.Contains(out, "ALARM:")
	})
	ownerProc.kill(t)
	_ = os.Remove(filepath.Join(owner, readyFile))
	ownerProc = startProc(t, bin, "owner-restarted", bootEnv, "clone", "--data", owner, "--listen", loopback)
	waitFile(t, ownerProc, filepath.Join(owner, readyFile), ready)
	prefix := filepath.Join(root, "proof")
	out, errOut, err := runC2C(bin, nil, "doc", "evidence", "--data", owner, doc, "--all", "--out", prefix)
	if err != nil {
		t.Fatalf("doc evidence --all: %v\n%s%s", err, out, errOut)
	}
	t.Logf("c2c doc evidence --all:\n%s", out)
	files, err := filepath.Glob(prefix + ".fork.*")
	if err != nil || len(files) != 2 {
		t.Fatalf("doc evidence --all wrote fork proofs %v (err %v), want one per sequencer", files, err)
	}
	out, errOut, err = runC2C(bin, nil, append([]string{"verify-evidence"}, files...)...)
	if err != nil || strings.Count(out, "VALID: this file proves fork") != 2 {
		t.Fatalf("verify-evidence of both: %v\n%s%s", err, out, errOut)
	}
	for _, seq := range []string{seqA, seqB} {
		valid := 0
		for _, f := range files {
			if out, _, err := runC2C(bin, nil, "verify-evidence", f, "--sequencer", seq); err == nil && strings.Contains(out, "VALID") {
				valid++
			}
		}
		if valid != 1 {
			t.Fatalf("%d files prove a fork by sequencer %s, want 1", valid, seq)
		}
	}
	raw, err := os.ReadFile(files[1])
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x04
	bad := filepath.Join(root, "tampered")
	if err := os.WriteFile(bad, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := runC2C(bin, nil, "verify-evidence", files[0], bad); err == nil || !strings.Contains(errOut, "REFUSED") || !strings.Contains(out, "VALID") {
		t.Fatalf("verify-evidence of a good and a tampered file: %v\n%s%s", err, out, errOut)
	}
	return ownerProc
}
