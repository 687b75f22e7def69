package clonehost

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/clone2clone/c2c/clonehost/bundle"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
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
