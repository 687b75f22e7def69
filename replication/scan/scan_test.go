package scan_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/clone2clone/c2c/replication/scan"
	"github.com/clone2clone/c2c/replication/scan/scanbench"
)

func mustDB(t testing.TB, files map[string]string) *scan.DB {
	t.Helper()
	var set scan.SigSet
	for name, body := range files {
		if err := scan.ParseFile(name, strings.NewReader(body), &set); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	db, err := scan.NewDB(1, &set)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// generatedDB is the generated database of 10,000 body and 100,000 hash
// signatures the bench uses, plus short signatures with only a 2-byte
// anchor.
func generatedDB(t testing.TB, short int) *scan.DB {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var ndb, hdb, sndb bytes.Buffer
	if err := scanbench.WriteNDB(&ndb, 10000, rng); err != nil {
		t.Fatal(err)
	}
	if err := scanbench.WriteHDB(&hdb, 100000, rng, nil); err != nil {
		t.Fatal(err)
	}
	if err := scanbench.WriteShortNDB(&sndb, short, rng); err != nil {
		t.Fatal(err)
	}
	return mustDB(t, map[string]string{"gen.ndb": ndb.String(), "gen.hdb": hdb.String(), "short.ndb": sndb.String()})
}

func TestLoadsGeneratedDatabase(t *testing.T) {
	db := generatedDB(t, 0)
	if h, b := db.Counts(); h != 100000 || b != 10001 {
		t.Fatalf("loaded %d hash and %d body signatures, want 100000 and 10001 (EICAR built in)", h, b)
	}
}

// TestEICAREveryPlacement: EICAR alone, inside a larger file, at its end,
// and straddling a read at every offset around a boundary, read whole or
// one byte at a time, with and without the generated database.
func TestEICAREveryPlacement(t *testing.T) {
	eicar := scan.EICAR()
	rng := rand.New(rand.NewPCG(3, 4))
	undo := scan.SetChunkSize(4096)
	defer undo()
	dbs := map[string]*scan.DB{"builtin": mustDB(t, nil), "generated": generatedDB(t, 0), "generated+short": generatedDB(t, 1000)}
	for dbName, db := range dbs {
		e := scan.NewEngine(db, nil)
		check := func(what string, data []byte) {
			t.Helper()
			for _, oneByte := range []bool{false, true} {
				var r io.Reader = bytes.NewReader(data)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				v, err := e.Scan(r, int64(len(data)))
				if err != nil || !v.Infected || v.Name != scan.EICARName {
					t.Errorf("%s, %s, one byte %v: got %+v, %v", dbName, what, oneByte, v, err)
				}
			}
		}
		check("alone", eicar)
		pad := randBytes(rng, 3<<20)
		check("inside", append(append(append([]byte{}, pad[:1<<20]...), eicar...), pad[1<<20:]...))
		check("at end", append(append([]byte{}, pad...), eicar...))
		check("at start", append(append([]byte{}, eicar...), pad...))
		for off := 4096 - 80; off <= 4096+8; off += 3 {
			check(fmt.Sprintf("straddling at %d", off), append(append(append([]byte{}, pad[:off]...), eicar...), pad[:5000]...))
		}
		v, err := e.Scan(bytes.NewReader(eicar[:len(eicar)-1]), -1)
		if err != nil || v.Infected {
			t.Errorf("%s: EICAR less its last byte: got %+v, %v", dbName, v, err)
		}
	}
}

func TestHashSignatures(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a, b, c, d := randBytes(rng, 1000), randBytes(rng, 3<<20), randBytes(rng, 70), randBytes(rng, 5000)
	db := mustDB(t, map[string]string{
		"a.hdb": fmt.Sprintf("%x:1000:Test.MD5\n", md5.Sum(a)),
		"b.hsb": fmt.Sprintf("%x:%d:Test.SHA1\n%x:*:Test.SHA256.Any\n", sha1.Sum(b), len(b), sha256.Sum256(c)),
		"d.hsb": fmt.Sprintf("%x:4999:Test.WrongSize\n", sha256.Sum256(d)),
	})
	e := scan.NewEngine(db, nil)
	for _, c := range []struct {
		data []byte
		size int64
		want string
	}{{a, 1000, "Test.MD5"}, {a, -1, "Test.MD5"}, {b, int64(len(b)), "Test.SHA1"}, {c, 70, "Test.SHA256.Any"}, {c, -1, "Test.SHA256.Any"}, {d, 5000, ""}, {a[1:], 999, ""}} {
		v, err := e.Scan(bytes.NewReader(c.data), c.size)
		if err != nil || v.Name != c.want || v.Infected != (c.want != "") {
			t.Errorf("size %d: got %+v, %v, want %q", c.size, v, err, c.want)
		}
	}
	if _, err := e.Scan(bytes.NewReader(a), 999); !errors.Is(err, scan.ErrSizeMismatch) {
		t.Errorf("short size: got %v", err)
	}
	if _, err := e.Scan(bytes.NewReader(a), 1001); !errors.Is(err, scan.ErrSizeMismatch) {
		t.Errorf("long size: got %v", err)
	}
}

func TestOffsets(t *testing.T) {
	db := mustDB(t, map[string]string{"o.ndb": "Abs:0:10:41424344\nEnd:0:EOF-6:45464748\nAlt:0:*:51525354(aa|bb)\n"})
	e := scan.NewEngine(db, nil)
	pad := bytes.Repeat([]byte{'.'}, 10)
	for _, c := range []struct {
		data, want string
	}{
		{string(pad) + "ABCD", "Abs"}, {string(pad) + ".ABCD", ""}, {"ABCD", ""},
		{string(pad) + "EFGH..", "End"}, {string(pad) + "EFGH...", ""}, {"EFGH.", ""},
		{"QRST\xaa", "Alt"}, {"QRST\xbb", "Alt"}, {"QRST\xcc", ""},
	} {
		v, err := e.Scan(strings.NewReader(c.data), int64(len(c.data)))
		if err != nil || v.Name != c.want {
			t.Errorf("%q: got %+v, %v, want %q", c.data, v, err, c.want)
		}
	}
}

func TestCacheAndScanBlob(t *testing.T) {
	cache := scan.NewCache(100)
	e1 := scan.NewEngine(mustDB(t, nil), cache)
	eicar := scan.EICAR()
	sum := sha256.Sum256(eicar)
	opens := 0
	open := func() (io.ReadCloser, error) { opens++; return io.NopCloser(bytes.NewReader(eicar)), nil }
	for i := range 3 {
		v, cached, err := e1.ScanBlob(sum, int64(len(eicar)), open)
		if err != nil || !v.Infected || cached != (i > 0) {
			t.Fatalf("scan %d: %+v cached %v %v", i, v, cached, err)
		}
	}
	db2, _ := scan.NewDB(2)
	e2 := scan.NewEngine(db2, cache)
	if _, cached, _ := e2.ScanBlob(sum, int64(len(eicar)), open); cached || opens != 2 {
		t.Fatalf("a new database version must rescan: cached %v, opens %d", cached, opens)
	}
	// Concurrent use of one engine and one cache (run with -race).
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				var s [32]byte
				s[0], s[1] = byte(g), byte(i)
				data := []byte(fmt.Sprint(g, i))
				if _, _, err := e1.ScanBlob(s, int64(len(data)), func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n := cache.Len(); n > 100 {
		t.Fatalf("cache holds %d entries, limit 100", n)
	}
}
