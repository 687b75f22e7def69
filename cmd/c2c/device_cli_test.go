package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/internal/keystore"
)

// deviceWorld is a loopback network with a document shared by clones a
// and b, and a device enrolled for a (its key in a file).
type deviceWorld struct {
	n       *netsim.Net
	doc     *netsim.Doc
	a, b    *netsim.Clone
	args    []string // c2c device connect flags
	dataDir string
}

func newDeviceWorld(t *testing.T) *deviceWorld {
	n := netsim.NewLoopback(t)
	seq := n.AddSequencer()
	a, b := n.AddClone(), n.AddClone()
	d := n.NewDoc(seq, a, b)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "devices", "phone.key")
	devKey := netsim.NewKey(t)
	if err := keystore.WritePrivKey(keyFile, devKey); err != nil {
		t.Fatal(err)
	}
	dev := devicetest.Enroll(t, n, a, "phone", devKey)
	dev.Serve(t, n)
	user := dev.User
	return &deviceWorld{n: n, doc: d, a: a, b: b, dataDir: filepath.Join(dir, "device"),
		args: []string{"--clone", fmt.Sprintf("%s/p2p/%s", a.H.Addrs()[0], a.H.ID()), "--user", user.String(),
			"--name", "phone", "--key", keyFile}}
}

func (w *deviceWorld) c2c(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	all := append([]string{"--data", w.dataDir, "--log-level", "warn"}, args...)
	if code := run(context.Background(), all, &out, &errb); code != 0 {
		t.Fatalf("c2c %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

func TestDeviceCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback network")
	}
	w := newDeviceWorld(t)
	doc := hex.EncodeToString(w.doc.ID[:])
	w.c2c(t, append([]string{"device", "connect"}, w.args...)...)
	w.c2c(t, "device", "type", doc, "hello")
	w.c2c(t, "device", "type", "--offline", doc, "[kept]", "--at", "0")
	w.doc.WaitConverged(time.Minute)
	if txt, _ := w.b.Svc.Text(w.doc.ID); txt != "hello" {
		t.Fatalf("after an offline edit the clones have %q", txt)
	}
	if err := w.b.Svc.EditFunc(context.Background(), w.doc.ID, func(n int) ([]ot.Op, error) {
		op, err := ot.FromPatch(n, n, 0, " from b")
		return []ot.Op{op}, err
	}); err != nil {
		t.Fatal(err)
	}
	w.doc.WaitConverged(time.Minute)
	if out := w.c2c(t, "device", "sync", doc); !strings.Contains(out, "synced at version") {
		t.Fatalf("sync said %q", out)
	}
	w.doc.WaitConverged(time.Minute)
	want := "[kept]hello from b"
	if txt, _ := w.b.Svc.Text(w.doc.ID); txt != want {
		t.Fatalf("clones have %q, want %q", txt, want)
	}
	if out := w.c2c(t, "device", "show", doc); strings.TrimSpace(out) != want {
		t.Fatalf("show printed %q", out)
	}
	patches := filepath.Join(t.TempDir(), "p.jsonl")
	if err := os.WriteFile(patches, []byte(`{"pos":0,"del":6,"ins":""}`+"\n"+`{"pos":5,"del":0,"ins":","}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := w.c2c(t, "device", "apply", doc, "--file", patches); !strings.Contains(out, "2 edits applied") {
		t.Fatalf("apply said %q", out)
	}
	w.doc.WaitConverged(time.Minute)
	if txt, _ := w.b.Svc.Text(w.doc.ID); txt != "hello, from b" {
		t.Fatalf("clones have %q", txt)
	}
	stats := w.c2c(t, "device", "stats")
	if !strings.Contains(stats, "/c2c/device/2.2.0") || !strings.Contains(stats, "runs: 6") {
		t.Fatalf("stats:\n%s", stats)
	}
	t.Logf("c2c device stats:\n%s", stats)
}

func TestMoveCursor(t *testing.T) {
	cases := []struct {
		cursor, pos, del int
		ins              string
		want             int
	}{
		{3, 1, 0, "ab", 5}, {3, 3, 0, "ab", 5}, {3, 4, 0, "ab", 3},
		{3, 0, 2, "", 1}, {3, 2, 3, "", 2}, {3, 5, 1, "", 3}, {0, 0, 1, "x", 1},
	}
	for _, c := range cases {
		op, err := ot.FromPatch(10, c.pos, c.del, c.ins)
		if err != nil {
			t.Fatal(err)
		}
		if got := moveCursor(c.cursor, op); got != c.want {
			t.Errorf("cursor %d through patch(%d,%d,%q) = %d, want %d", c.cursor, c.pos, c.del, c.ins, got, c.want)
		}
	}
}

func TestANSIBackground(t *testing.T) {
	if got := ansiBackground("#ff8000"); got != "\x1b[48;2;255;128;0m" {
		t.Fatalf("got %q", got)
	}
	if got := ansiBackground("nope"); got != "\x1b[45m" {
		t.Fatalf("bad colour: %q", got)
	}
}
