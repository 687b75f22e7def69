package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The mirror as a person runs it, with real processes: two users' phones
// find their clones through a provider's directory, one stores files in its
// mirrored files app and sends one to the other, whose inbox gets it (the
// clone-to-clone delivery relays it as a network input).
func TestMirrorCLIProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the c2c binary")
	}
	bin := c2cBinary(t)
	root := t.TempDir()
	const ready = 60 * time.Second
	run := mustRunC2C(t, bin)
	users := map[string]string{}
	for _, u := range []string{"a", "b"} {
		users[u] = field(run("keygen", "--data", filepath.Join(root, "user-"+u)), "user ID")
	}
	pDir := filepath.Join(root, "p")
	p := startProc(t, bin, "provider", nil, "provider", "--data", pDir, "--listen", loopback)
	waitFile(t, p, filepath.Join(pDir, readyFile), ready)
	boot := strings.Fields(waitFile(t, p, filepath.Join(pDir, addrsFile), ready))[0]
	for _, u := range []string{"a", "b"} {
		dir := filepath.Join(root, "clone-"+u)
		run("enroll", "--key", filepath.Join(root, "user-"+u, "user.key"), "--device", "phone", "--clone-data", dir)
		c := startProc(t, bin, "clone-"+u, nil, "clone", "--data", dir, "--listen", loopback, "--bootstrap", boot)
		waitFile(t, c, filepath.Join(dir, readyFile), ready)
		run("device", "connect", "--data", filepath.Join(root, "phone-"+u), "--provider", boot, "--user", users[u],
			"--name", "phone", "--key", filepath.Join(root, "user-"+u, "devices", "phone.key"))
	}
	phoneA, phoneB := filepath.Join(root, "phone-a"), filepath.Join(root, "phone-b")

	photo, local, note := mirrorTestFiles(t, root, "hello mirror\n")
	run("device", "files", "--data", phoneA, "put", local)
	run("device", "files", "--data", phoneA, "mkdir", "docs")
	run("device", "files", "--data", phoneA, "put", note, "docs/note.txt")
	run("device", "files", "--data", phoneA, "put", local, "copy.jpg")
	run("device", "files", "--data", phoneA, "mv", "copy.jpg", "docs/copy.jpg")
	ls := run("device", "files", "--data", phoneA, "ls")
	cid := func(name string) string {
		for _, l := range strings.Split(ls, "\n") {
			if f := strings.Fields(l); len(f) == 4 && f[0] == name {
				return f[3]
			}
		}
		t.Fatalf("%s not in\n%s", name, ls)
		return ""
	}
	if cid("photo.jpg") != cid("docs/copy.jpg") {
		t.Fatalf("identical files have different CIDs:\n%s", ls)
	}
	if got := run("device", "files", "--data", phoneA, "cat", "docs/note.txt"); got != "hello mirror\n" {
		t.Fatalf("cat: %q", got)
	}
	run("device", "files", "--data", phoneA, "rm", "docs/copy.jpg")
	if ls := run("device", "files", "--data", phoneA, "ls"); strings.Contains(ls, "copy.jpg") {
		t.Fatalf("rm left the file:\n%s", ls)
	}
	if m := run("device", "mirror", "--data", phoneA); !strings.Contains(m, "state hashes match: true") {
		t.Fatalf("device mirror:\n%s", m)
	}

	run("device", "send", "--data", phoneA, "photo.jpg", "--to", users["b"]+"/phone")
	waitInboxPhoto(t, run, root, phoneB, users["a"]+"/phone", photo, ready)

	// A big file: uploaded once and put by reference, sent by reference,
	// pulled by phone B from its clone; the sender sees it delivered.
	big := make([]byte, 3<<20+123)
	_, _ = rand.Read(big)
	bigPath := filepath.Join(root, "big.bin")
	if err := os.WriteFile(bigPath, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run("device", "files", "--data", phoneA, "put", bigPath); !strings.Contains(out, "uploaded to the clone: 14 blocks") {
		t.Fatalf("files put of a big file:\n%s", out)
	}
	if out := run("device", "files", "--data", phoneA, "put", bigPath, "again.bin"); !strings.Contains(out, "the clone already holds it") {
		t.Fatalf("a second put of the same content:\n%s", out)
	}
	run("device", "send", "--data", phoneA, "big.bin", "--to", users["b"]+"/phone")
	var bigCID string
	for deadline := time.Now().Add(ready); ; {
		inbox := run("device", "inbox", "--data", phoneB)
		for _, l := range strings.Split(inbox, "\n") {
			// big.bin SIZE bytes sha256:X on the clone (c2c device pull CID)
			if f := strings.Fields(l); len(f) == 11 && f[0] == "big.bin" && f[6] == "clone" {
				bigCID = strings.TrimSuffix(f[10], ")")
			}
		}
		if bigCID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("big.bin is not in phone B's inbox after %v:\n%s", ready, inbox)
		}
		time.Sleep(200 * time.Millisecond) // polling interval, not synchronization
	}
	pulled := filepath.Join(root, "pulled.bin")
	if out := run("device", "pull", "--data", phoneB, bigCID, "--out", pulled); !strings.Contains(out, "verified") {
		t.Fatalf("device pull:\n%s", out)
	}
	if got, err := os.ReadFile(pulled); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("the pulled file differs from the sent one (%d bytes, %v)", len(got), err)
	}
	for deadline := time.Now().Add(ready); ; {
		out := run("device", "outbox", "--data", phoneA)
		if strings.Count(out, "delivered to phone") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox does not show both deliveries after %v:\n%s", ready, out)
		}
		time.Sleep(200 * time.Millisecond) // polling interval, not synchronization
	}
	if show := run("mirror", "show", "--data", filepath.Join(root, "clone-a")); !strings.Contains(show, `"batches_replayed"`) {
		t.Fatalf("mirror show:\n%s", show)
	}
}

// mirrorTestFiles writes a 300,000-byte random photo.jpg and a note.txt
// holding note into root, for the mirror tests' files app.
func mirrorTestFiles(t *testing.T, root, note string) (photo []byte, photoPath, notePath string) {
	t.Helper()
	photo = make([]byte, 300_000)
	_, _ = rand.Read(photo)
	photoPath, notePath = filepath.Join(root, "photo.jpg"), filepath.Join(root, "note.txt")
	if err := os.WriteFile(photoPath, photo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notePath, []byte(note), 0o600); err != nil {
		t.Fatal(err)
	}
	return photo, photoPath, notePath
}

// waitInboxPhoto waits until the phone at dir has photo.jpg, from sender,
// in its inbox, saves it into root/saved and checks it is photo.
func waitInboxPhoto(t *testing.T, run func(...string) string, root, dir, sender string, photo []byte, limit time.Duration) {
	t.Helper()
	saved := filepath.Join(root, "saved")
	if err := os.Mkdir(saved, 0o700); err != nil {
		t.Fatal(err)
	}
	waitCond(t, limit, "the sent file in the recipient's inbox", func() bool {
		inbox := run("device", "inbox", "--data", dir, "--save", saved)
		return strings.Contains(inbox, "photo.jpg 300000 bytes") && strings.Contains(inbox, sender)
	})
	got, err := os.ReadFile(filepath.Join(saved, "photo.jpg"))
	if err != nil || !bytes.Equal(got, photo) {
		t.Fatalf("the received file differs from the sent one (%d bytes, %v)", len(got), err)
	}
}
