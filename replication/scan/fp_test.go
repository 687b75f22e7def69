package scan_test

import (
	"crypto/md5"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/clone2clone/c2c/replication/scan"
)

// randReader yields n pseudo-random bytes.
type randReader struct {
	rng *rand.ChaCha8
	n   int64
}

func (r *randReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	r.rng.Read(p)
	r.n -= int64(len(p))
	return len(p), nil
}

// scanRandom scans total bytes of random data as files of 64 MiB with the
// generated database plus 1,000 signatures with only a 2-byte anchor, and
// fails on any detection.
func scanRandom(t *testing.T, total int64) {
	db := generatedDB(t, 1000)
	if db.ShortAnchored() != 1000 {
		t.Fatalf("%d short-anchored parts, want 1000", db.ShortAnchored())
	}
	e := scan.NewEngine(db, nil)
	seed := [32]byte{9}
	for off := int64(0); off < total; off += 64 << 20 {
		n := min(64<<20, total-off)
		seed[1], seed[2] = byte(off>>26), byte(off>>34)
		v, err := e.Scan(&randReader{rand.NewChaCha8(seed), n}, n)
		if err != nil || v.Infected {
			t.Fatalf("random file at %d: %+v, %v", off, v, err)
		}
	}
}

// TestNoFalsePositivesRandom: 1 GiB of random data (16 MiB with -short).
// About 6 s on one core here (go test -v -run NoFalsePositivesRandom).
func TestNoFalsePositivesRandom(t *testing.T) {
	total := int64(1 << 30)
	if testing.Short() {
		total = 16 << 20
	}
	scanRandom(t, total)
}

// TestNoFalsePositivesSourceTree scans every file of this repository
// (.git aside) with the generated database and EICAR.
func TestNoFalsePositivesSourceTree(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skipf("repository root not found at %s", root)
	}
	e := scan.NewEngine(generatedDB(t, 1000), nil)
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		v, err := e.Scan(f, -1)
		if err != nil {
			return err
		}
		if v.Infected {
			t.Errorf("%s: %+v", path, v)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("scanned only %d files", files)
	}
	t.Logf("%d files, no detection", files)
}

// TestBinaryHoldsNoEICAR: this test binary links the package, and must not
// hold the EICAR file itself, or an antivirus would flag every binary
// built with it (c2c included). EICAR's MD5 is the published one.
func TestBinaryHoldsNoEICAR(t *testing.T) {
	if got := fmt.Sprintf("%x", md5.Sum(scan.EICAR())); got != "44d88612fea8a8f36de82e1278abb02f" {
		t.Fatalf("EICAR's MD5 is %s", got)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	v, err := scan.NewEngine(generatedDB(t, 0), nil).Scan(f, -1)
	if err != nil || v.Infected {
		t.Fatalf("%s: %+v, %v", exe, v, err)
	}
}
