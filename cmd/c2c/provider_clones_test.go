package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/clonehost"
)

// The operator's flow with real processes: a provider with no clone
// enrolls one while it runs (c2c provider clones enrol), lists, stops and
// starts it, and migrates it to a second provider after edits; the edits
// are all there, the first provider no longer lists it, and the phone,
// which knows only the first provider, finds its clone at the second one
// through the directory and reads the document.
func TestProviderClonesEnrolMigrateCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the c2c binary")
	}
	bin := c2cBinary(t)
	must := mustRunC2C(t, bin)
	root := t.TempDir()
	const ready = 90 * time.Second
	user := field(must("keygen", "--data", filepath.Join(root, "user")), "user ID")
	p1, p2 := filepath.Join(root, "p1"), filepath.Join(root, "p2")
	for _, d := range []string{p1, p2} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	prov1 := startProc(t, bin, "provider1", nil, "provider", "--host-clones", "--data", p1, "--listen", loopback)
	waitFile(t, prov1, filepath.Join(p1, readyFile), ready)
	boot1 := strings.Fields(waitFile(t, prov1, filepath.Join(p1, addrsFile), ready))
	prov2 := startProc(t, bin, "provider2", nil, "provider", "--host-clones", "--data", p2, "--listen", loopback,
		"--bootstrap", strings.Join(boot1, ","))
	defer prov2.stop(t)
	defer prov1.stop(t)
	waitFile(t, prov2, filepath.Join(p2, readyFile), ready)

	list := func(dir string) []clonehost.CloneInfo {
		t.Helper()
		var in []clonehost.CloneInfo
		if err := json.Unmarshal([]byte(must("provider", "clones", "list", "--json", "--data", dir)), &in); err != nil {
			t.Fatal(err)
		}
		return in
	}
	// Enrol into the running provider.
	cloneDir := filepath.Join(p1, clonesDir, "alice")
	must("enroll", "--key", filepath.Join(root, "user", "user.key"), "--device", "phone", "--clone-data", cloneDir)
	waitCond(t, ready, "provider 1's admin socket", func() bool {
		_, err := os.Stat(filepath.Join(p1, clonehost.AdminSocket))
		return err == nil
	})
	must("provider", "clones", "enrol", "alice", "--data", p1)
	waitFile(t, prov1, filepath.Join(cloneDir, clonehost.ReadyFile), ready)
	if in := list(p1); len(in) != 1 || in[0].Name != "alice" || in[0].State != clonehost.Running || in[0].User != user {
		t.Fatalf("list after enrol: %+v", in)
	}
	if out := must("provider", "clones", "list", "--data", p1); !strings.Contains(out, "alice") || !strings.Contains(out, "running") {
		t.Fatalf("list table:\n%s", out)
	}

	// Stop and start it.
	must("provider", "clones", "stop", "alice", "--data", p1)
	if in := list(p1); in[0].State != clonehost.Stopped {
		t.Fatalf("after stop: %+v", in)
	}
	must("provider", "clones", "start", "alice", "--data", p1)
	waitFile(t, prov1, filepath.Join(cloneDir, clonehost.ReadyFile), ready)

	// A document with acknowledged edits.
	seqDir := filepath.Join(root, "seq")
	seq := startProc(t, bin, "sequencer", nil, "sequencer", "--data", seqDir, "--listen", loopback, "--bootstrap", strings.Join(boot1, ","))
	defer seq.stop(t)
	waitFile(t, seq, filepath.Join(seqDir, readyFile), ready)
	seqAddr := quicAddr(strings.Fields(waitFile(t, seq, filepath.Join(seqDir, addrsFile), ready)))
	doc := strings.TrimSpace(must("doc", "create", "--data", cloneDir, "--sequencer", seqAddr))
	var acked []string
	for _, tok := range []string{"<one>", "<two>", "<three>", "<four>", "<five>"} {
		must("doc", "edit", "--data", cloneDir, doc, "--append", tok) // returns once durable: acknowledged
		acked = append(acked, tok)
	}

	// The phone connects through provider 1's directory, which it keeps.
	phone := filepath.Join(root, "phone")
	must("device", "connect", "--data", phone, "--provider", boot1[0], "--user", user,
		"--name", "phone", "--key", filepath.Join(root, "user", "devices", "phone.key"))

	// Migrate it.
	out := must("provider", "clones", "migrate", "alice", "--data", p1, "--to", p2, "--json")
	var res struct {
		Bytes int64 `json:"bytes"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Bytes == 0 {
		t.Fatalf("migrate printed %q (%v)", out, err)
	}
	if in := list(p1); len(in) != 0 {
		t.Fatalf("provider 1 still lists %+v", in)
	}
	if _, err := os.Stat(cloneDir); !os.IsNotExist(err) {
		t.Fatalf("provider 1 keeps the clone's directory: %v", err)
	}
	newDir := filepath.Join(p2, clonesDir, "alice")
	waitFile(t, prov2, filepath.Join(newDir, clonehost.ReadyFile), ready)
	show := must("doc", "show", "--data", newDir, doc)
	for _, tok := range acked {
		if strings.Count(show, tok) != 1 {
			t.Fatalf("edit %s not once at the new provider:\n%s", tok, show)
		}
	}

	// The phone knows only provider 1 and the clone's old address: its
	// next command finds the clone at provider 2 through provider 1's
	// directory and saves the new address.
	var text, stderr string
	waitCond(t, ready, "the phone reaches its moved clone", func() bool {
		var err error
		text, stderr, err = runC2C(bin, nil, "device", "show", "--data", phone, doc)
		return err == nil
	})
	if !strings.Contains(stderr, "moved") {
		t.Fatalf("the phone did not say its clone moved: %q", stderr)
	}
	for _, tok := range acked {
		if !strings.Contains(text, tok) {
			t.Fatalf("the phone does not see %s: %q", tok, text)
		}
	}

	if out := must("device", "show", "--data", phone, doc); !strings.Contains(out, acked[0]) {
		t.Fatalf("the saved address: %q", out)
	}

	// An export is written 0600 and never over an existing file.
	exp := filepath.Join(root, "alice.export")
	must("provider", "clones", "export", "alice", "--data", p2, "--out", exp)
	if st, err := os.Stat(exp); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v, mode %v", err, st.Mode().Perm())
	}
	if _, _, err := runC2C(bin, nil, "provider", "clones", "export", "alice", "--data", p2, "--out", exp); err == nil {
		t.Fatal("export wrote over an existing file")
	}
	must("provider", "clones", "start", "alice", "--data", p2)
}
