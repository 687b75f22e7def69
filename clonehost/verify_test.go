package clonehost

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clone2clone/c2c/clonehost/bundle"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	"github.com/ipfs/go-datastore"
)

// validBundle is the export of a freshly enrolled clone, made without a
// host: its files and one datastore entry.
func validBundle(t testing.TB) []byte {
	t.Helper()
	dir := t.TempDir()
	enrollInto(t, dir, "c")
	b := &bundle.Bundle{Entries: []bundle.Entry{{Key: "/docs/x", Value: []byte("v")}}}
	for _, f := range exportFiles {
		if data, err := readIf(filepath.Join(dir, "c", f)); err == nil && data != nil {
			b.Files = append(b.Files, bundle.File{Name: f, Data: data})
		}
	}
	var buf bytes.Buffer
	if err := bundle.Encode(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readIf(path string) ([]byte, error) {
	b, err := keystore.ReadFile(path)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil
	}
	return b, err
}

// An import's checks: a valid export passes; one whose certificate names
// another identity, one without an HPKE key and one with a stray file
// are refused.
func TestVerifyBundle(t *testing.T) {
	good, err := bundle.Decode(bytes.NewReader(validBundle(t)), bundle.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyBundle(good, time.Now()); err != nil {
		t.Fatalf("a valid export: %v", err)
	}
	other, err := bundle.Decode(bytes.NewReader(validBundle(t)), bundle.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	swap := func(b *bundle.Bundle, name string, data []byte) *bundle.Bundle {
		out := &bundle.Bundle{}
		for _, f := range b.Files {
			if f.Name == name {
				if data == nil {
					continue
				}
				f.Data = data
			}
			out.Files = append(out.Files, f)
		}
		return out
	}
	cases := map[string]*bundle.Bundle{
		"another clone's certificate": swap(good, node.OwnerCertFile, other.File(node.OwnerCertFile)),
		"another clone's HPKE key":    swap(good, node.HPKEKeyFile, other.File(node.HPKEKeyFile)),
		"no HPKE key":                 swap(good, node.HPKEKeyFile, nil),
		"no certificate":              swap(good, node.OwnerCertFile, nil),
		"stray file":                  {Files: append(swap(good, "", nil).Files, bundle.File{Name: "control.sock", Data: []byte("x")})},
	}
	for name, b := range cases {
		if _, err := verifyBundle(b, time.Now()); !errors.Is(err, ErrImport) {
			t.Errorf("%s: %v, want ErrImport", name, err)
		}
	}
	if _, err := verifyBundle(good, time.Now().Add(48*time.Hour)); !errors.Is(err, ErrImport) {
		t.Errorf("an expired certificate: %v", err)
	}
}

// FuzzImportBundle: no input panics an import's decoding and checks.
func FuzzImportBundle(f *testing.F) {
	good := validBundle(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(bundle.Magic))
	lim := bundle.Limits{MaxBytes: 1 << 20, MaxFrame: 1 << 16, MaxFiles: 16, MaxEntries: 1 << 10}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := bundle.Decode(bytes.NewReader(in), lim)
		if err != nil {
			return
		}
		_, _ = verifyBundle(b, time.Now())
	})
}

// What an import cut short by a crash leaves (its staging directory, and
// entries under the clone's prefix written before the rename that would
// have enrolled it) enrols nothing: the next start clears the staging
// directory, and the next import of that clone replaces the entries.
func TestImportAfterCrashLeftovers(t *testing.T) {
	ctx := context.Background()
	raw := validBundle(t)
	b, err := bundle.Decode(bytes.NewReader(raw), bundle.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := verifyBundle(b, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, t.TempDir(), 1)
	stage := filepath.Join(p.dir, "clones", importPrefix+"moved")
	if err := os.MkdirAll(stage, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range b.Files {
		if err := keystore.WriteFile(filepath.Join(stage, f.Name), f.Data); err != nil {
			t.Fatal(err)
		}
	}
	h := p.start(t, DefaultParams())
	defer func() { p.stop(t, h) }()
	if _, err := os.Stat(stage); !os.IsNotExist(err) {
		t.Fatalf("staging directory left after a start: %v", err)
	}
	if len(h.Info()) != 1 {
		t.Fatalf("a cut-short import enrolled something: %+v", h.Info())
	}
	// An entry the crashed import wrote that the export does not have.
	orphan := p.shared.Sub(prefix(cert.Clone.String()))
	if err := orphan.Put(ctx, datastore.NewKey("/stale"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := h.Import(ctx, "moved", bytes.NewReader(raw), bundle.DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	if ok, _ := orphan.Has(ctx, datastore.NewKey("/stale")); ok {
		t.Fatal("the import kept an entry its export does not have")
	}
	if v, err := orphan.Get(ctx, datastore.NewKey("/docs/x")); err != nil || string(v) != "v" {
		t.Fatalf("imported entry: %q, %v", v, err)
	}
	if h.Clone(cert.Clone) == nil {
		t.Fatal("the imported clone does not run")
	}
	// The same clone again, under another name: refused.
	if err := h.Import(ctx, "again", bytes.NewReader(raw), bundle.DefaultLimits()); !errors.Is(err, ErrExists) {
		t.Fatalf("importing a hosted clone again: %v", err)
	}
}
