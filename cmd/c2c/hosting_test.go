package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/clonehost"
	"github.com/clone2clone/c2c/control"
)

// A provider process hosting three clones (c2c provider --host-clones) is
// killed with SIGKILL while one of them takes edits, and restarted on its
// data dir: every hosted clone comes back under its own peer ID,
// republishes its record (found by a lookup from another hosted clone),
// no acknowledged edit is lost, and the phone's mirror keeps its file.
func TestHostedClonesSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the c2c binary")
	}
	bin := c2cBinary(t)
	root := t.TempDir()
	const ready = 90 * time.Second
	ctx := context.Background()
	out, errOut, err := runC2C(bin, nil, "keygen", "--data", filepath.Join(root, "user"))
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, errOut)
	}
	user := field(out, "user ID")
	keyPath := filepath.Join(root, "user", "user.key")
	pDir := filepath.Join(root, "p1")
	devices := []string{"phone", "laptop", "tablet"}
	cloneDir := func(i int) string { return filepath.Join(pDir, clonesDir, devices[i]) }
	for i, dev := range devices {
		if _, errOut, err := runC2C(bin, nil, "enroll", "--key", keyPath, "--device", dev, "--clone-data", cloneDir(i)); err != nil {
			t.Fatalf("enroll %s: %v\n%s", dev, err, errOut)
		}
	}
	if err := os.Chmod(pDir, 0o700); err != nil {
		t.Fatal(err)
	}
	startProvider := func(name string) *proc {
		for i := range devices {
			_ = os.Remove(filepath.Join(cloneDir(i), clonehost.ReadyFile)) // left by a killed process
		}
		_ = os.Remove(filepath.Join(pDir, readyFile))
		p := startProc(t, bin, name, nil, "provider", "--host-clones", "--data", pDir, "--listen", loopback)
		waitFile(t, p, filepath.Join(pDir, readyFile), ready)
		for i := range devices {
			waitFile(t, p, filepath.Join(cloneDir(i), clonehost.ReadyFile), ready)
		}
		return p
	}
	prov := startProvider("provider")
	boot := strings.Join(strings.Fields(waitFile(t, prov, filepath.Join(pDir, addrsFile), ready)), ",")
	seqDir := filepath.Join(root, "seq")
	seq := startProc(t, bin, "sequencer", nil, "sequencer", "--data", seqDir, "--listen", loopback, "--bootstrap", boot)
	waitFile(t, seq, filepath.Join(seqDir, readyFile), ready)
	// Hosted clones dial QUIC only.
	seqAddr := quicAddr(strings.Fields(waitFile(t, seq, filepath.Join(seqDir, addrsFile), ready)))

	out, errOut, err = runC2C(bin, nil, "doc", "create", "--data", cloneDir(0), "--sequencer", seqAddr)
	if err != nil {
		t.Fatalf("doc create: %v\n%s", err, errOut)
	}
	doc := strings.TrimSpace(out)
	if _, errOut, err := runC2C(bin, nil, "doc", "invite", "--data", cloneDir(0), doc, user, devices[1]); err != nil {
		t.Fatalf("doc invite: %v\n%s", err, errOut)
	}
	phone := control.NewClient(filepath.Join(cloneDir(0), control.SocketFile))
	defer phone.Close()
	laptop := control.NewClient(filepath.Join(cloneDir(1), control.SocketFile))
	defer laptop.Close()
	waitCond(t, ready, "the laptop's clone holds the document", func() bool {
		in, err := laptop.Show(ctx, doc)
		return err == nil && in.Role != "none" && in.Applied == in.Seq
	})
	// The phone's mirror holds a file before the kill.
	run := mustRunC2C(t, bin)
	phoneDev := filepath.Join(root, "phone-device")
	addr, err := fileAddr(cloneDir(0))
	if err != nil {
		t.Fatal(err)
	}
	run("device", "connect", "--data", phoneDev, "--clone", addr, "--user", user, "--name", "phone",
		"--key", filepath.Join(root, "user", "devices", "phone.key"))
	note := filepath.Join(root, "note.txt")
	if err := os.WriteFile(note, []byte("kept through kill -9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("device", "files", "--data", phoneDev, "put", note, "note.txt")

	app := &appender{name: "phone", client: phone, doc: doc}
	app.start()
	waitCond(t, ready, "20 edits acknowledged", func() bool { return app.count() >= 20 })
	prov.kill(t)
	killedAt := time.Now()
	t.Logf("provider killed with %d edits acknowledged", len(app.ackedBefore(killedAt)))

	// The owner keeps editing through the kill and the restart: the edits
	// the restarted clone acknowledges count too.
	prov = startProvider("provider-restarted")
	defer prov.stop(t)
	waitCond(t, ready, "edits acknowledged after the restart", func() bool {
		return len(app.ackedBefore(time.Now())) >= len(app.ackedBefore(killedAt))+5
	})
	app.halt()
	acked := app.ackedBefore(time.Now())
	t.Logf("%d edits acknowledged in all", len(acked))
	defer seq.stop(t)
	admin := clonehost.NewAdminClient(filepath.Join(pDir, clonehost.AdminSocket))
	defer admin.Close()
	var infos []clonehost.CloneInfo
	waitCond(t, ready, "the admin socket lists three published clones", func() bool {
		infos, err = admin.Clones(ctx)
		if err != nil || len(infos) != 3 {
			return false
		}
		for _, in := range infos {
			if !in.Published {
				return false
			}
		}
		return true
	})
	for i, in := range infos {
		target := infos[(i+1)%len(infos)]
		var res clonehost.LookupResult
		waitCond(t, ready, in.Name+" finds "+target.Name, func() bool {
			res, err = admin.Lookup(ctx, clonehost.LookupRequest{From: in.Peer, User: user, Device: target.Device})
			return err == nil
		})
		if res.Clone != target.Peer {
			t.Fatalf("%s looked %s up and got clone %s, want %s", in.Name, target.Name, res.Clone, target.Peer)
		}
	}
	// The restarted clone's mirror still holds the phone's file, and the
	// phone's mirror state and the clone's agree.
	waitCond(t, ready, "the phone's file on its restarted clone", func() bool {
		out, _, err := runC2C(bin, nil, "device", "files", "--data", phoneDev, "cat", "note.txt")
		return err == nil && out == "kept through kill -9\n"
	})
	if m := run("device", "mirror", "--data", phoneDev); !strings.Contains(m, "state hashes match: true") {
		t.Fatalf("device mirror after the restart:\n%s", m)
	}
	for _, c := range []*control.Client{phone, laptop} {
		waitCond(t, ready, "every acknowledged edit on both clones", func() bool {
			in, err := c.Show(ctx, doc)
			if err != nil || in.Pending {
				return false
			}
			for _, tok := range acked {
				if strings.Count(in.Text, tok) != 1 {
					return false
				}
			}
			return true
		})
	}
}
