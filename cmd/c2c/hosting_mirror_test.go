package main

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/clonehost"
)

// Hosted clones run their phones' mirrors as c2c clone does: two users'
// clones hosted by one provider process (c2c provider --host-clones); each
// phone connects to its clone, phone A stores files in its mirrored files
// app, its mirror replays them (state hashes match) and sends one to phone
// B, whose inbox gets it through B's hosted clone; phone A has its clone
// download a file, scanned by the provider's engine, and pulls it; c2c
// mirror show reads a hosted clone's status file, never an empty
// datastore of its own.
func TestHostedClonesMirror(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the c2c binary")
	}
	bin := c2cBinary(t)
	root := t.TempDir()
	const ready = 90 * time.Second
	run := mustRunC2C(t, bin)
	pDir := filepath.Join(root, "p")
	users := map[string]string{}
	for _, u := range []string{"a", "b"} {
		users[u] = field(run("keygen", "--data", filepath.Join(root, "user-"+u)), "user ID")
		run("enroll", "--key", filepath.Join(root, "user-"+u, "user.key"), "--device", "phone",
			"--clone-data", filepath.Join(pDir, clonesDir, u))
	}
	if err := os.Chmod(pDir, 0o700); err != nil {
		t.Fatal(err)
	}
	dl := make([]byte, 1<<20+17)
	_, _ = rand.Read(dl)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "dl.bin", time.Time{}, bytes.NewReader(dl))
	}))
	defer srv.Close()
	p := startProc(t, bin, "provider", nil, "provider", "--host-clones", "--data", pDir, "--listen", loopback,
		"--download-allow-private")
	defer p.stop(t)
	waitFile(t, p, filepath.Join(pDir, readyFile), ready)
	for _, u := range []string{"a", "b"} {
		cloneDir := filepath.Join(pDir, clonesDir, u)
		waitFile(t, p, filepath.Join(cloneDir, clonehost.ReadyFile), ready)
		addr, err := fileAddr(cloneDir)
		if err != nil {
			t.Fatal(err)
		}
		run("device", "connect", "--data", filepath.Join(root, "phone-"+u), "--clone", addr, "--user", users[u],
			"--name", "phone", "--key", filepath.Join(root, "user-"+u, "devices", "phone.key"))
	}
	phoneA, phoneB := filepath.Join(root, "phone-a"), filepath.Join(root, "phone-b")
	if _, err := os.Stat(filepath.Join(pDir, clonesDir, "a", "datastore")); !os.IsNotExist(err) {
		t.Fatalf("a hosted clone has a datastore of its own (%v): its mirror must be on the provider's", err)
	}

	photo, local, note := mirrorTestFiles(t, root, "hello hosted mirror\n")
	run("device", "files", "--data", phoneA, "put", local)
	run("device", "files", "--data", phoneA, "put", note, "note.txt")
	if ls := run("device", "files", "--data", phoneA, "ls"); !strings.Contains(ls, "photo.jpg") || !strings.Contains(ls, "note.txt") {
		t.Fatalf("files ls:\n%s", ls)
	}
	if got := run("device", "files", "--data", phoneA, "cat", "note.txt"); got != "hello hosted mirror\n" {
		t.Fatalf("cat: %q", got)
	}
	if m := run("device", "mirror", "--data", phoneA); !strings.Contains(m, "state hashes match: true") {
		t.Fatalf("device mirror:\n%s", m)
	}

	run("device", "send", "--data", phoneA, "photo.jpg", "--to", users["b"]+"/phone")
	waitInboxPhoto(t, run, root, phoneB, users["a"]+"/phone", photo, ready)
	waitCond(t, ready, "phone A's outbox shows the delivery", func() bool {
		return strings.Contains(run("device", "outbox", "--data", phoneA), "delivered to phone")
	})
	out := run("device", "download", "--data", phoneA, srv.URL+"/dl.bin", "--when", "wifi", "--wait")
	if !strings.Contains(out, "cached by the clone: 1048593 bytes") || !strings.Contains(out, "clean") {
		t.Fatalf("download --wait on a hosted clone:\n%s", out)
	}
	if out := run("device", "conditions", "--data", phoneA, "--wifi"); !strings.Contains(out, "verified, saved to") {
		t.Fatalf("conditions --wifi:\n%s", out)
	}
	if got, err := os.ReadFile(filepath.Join(phoneA, "downloads", "dl.bin")); err != nil || !bytes.Equal(got, dl) {
		t.Fatalf("the pulled download differs (%d bytes, %v)", len(got), err)
	}
	waitCond(t, ready, "c2c mirror show of hosted clone a shows its replayed batches", func() bool {
		show := run("mirror", "show", "--data", filepath.Join(pDir, clonesDir, "a"))
		return strings.Contains(show, `"enrolled": true`) && !strings.Contains(show, `"batches_replayed": 0`)
	})
}
