package notes_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/clone2clone/c2c/internal/fuzzseed"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/notes"
)

func apply(t testing.TB, a *notes.App, at replication.Time, p []byte) error {
	t.Helper()
	ev := replication.Event{Time: at, Payload: p}
	_, err := a.Apply(&ev)
	return err
}

func TestOps(t *testing.T) {
	a := notes.New()
	steps := []struct {
		op   []byte
		want string // the note "k" after the op; "-" for missing
		err  bool
	}{
		{notes.Insert("k", 0, []byte("hello")), "hello", false},
		{notes.Insert("k", 5, []byte(" world")), "hello world", false},
		{notes.Insert("k", 0, []byte(">")), ">hello world", false},
		{notes.Cut("k", 1, 6), ">world", false},
		{notes.Cut("k", 3, 9), ">world", true},
		{notes.Insert("k", 99, []byte("x")), ">world", true},
		{notes.Put("k", []byte("new")), "new", false},
		{notes.Delete("k"), "-", false},
		{notes.Cut("k", 0, 0), "-", true},
		{[]byte("x"), "-", true},
		{[]byte{'p', 0}, "-", true},
		{append(notes.Delete("k"), 0), "-", true},
	}
	for i, s := range steps {
		before := a.Root()
		err := apply(t, a, replication.Time(i), s.op)
		if (err != nil) != s.err || (err != nil && !errors.Is(err, notes.ErrBadOp)) {
			t.Fatalf("step %d: error %v", i, err)
		}
		if err != nil && a.Root() != before {
			t.Fatalf("step %d: a rejected op changed the state", i)
		}
		got, ok := a.Get("k")
		if (s.want == "-") == ok || (ok && string(got) != s.want) {
			t.Fatalf("step %d: note %q (%v), want %q", i, got, ok, s.want)
		}
	}
}

// TestRootIsIncrementalAndExportImports: after random edits the
// incremental root equals the manifest's, and importing the export into a
// fresh app gives the same notes and root.
func TestRootIsIncrementalAndExportImports(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := notes.New()
	for i := range 3000 {
		key := fmt.Sprintf("k%d", rng.IntN(200))
		cur, _ := a.Get(key)
		var p []byte
		switch rng.IntN(4) {
		case 0:
			p = notes.Put(key, bytes.Repeat([]byte{byte(i)}, rng.IntN(50)))
		case 1:
			p = notes.Delete(key)
		default:
			p = notes.Insert(key, rng.IntN(len(cur)+1), []byte("ab"))
		}
		if err := apply(t, a, replication.Time(i), p); err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 {
			st := replication.NewMemStore()
			m, err := a.Export(st)
			if err != nil {
				t.Fatal(err)
			}
			if m.Root() != a.Root() {
				t.Fatalf("after %d edits the root is not the manifest's", i)
			}
			b := notes.New()
			if err := b.Import(m, st); err != nil {
				t.Fatal(err)
			}
			if b.Root() != a.Root() || b.Len() != a.Len() {
				t.Fatal("import differs")
			}
			for k := range 200 {
				x, _ := a.Get(fmt.Sprintf("k%d", k))
				y, _ := b.Get(fmt.Sprintf("k%d", k))
				if !bytes.Equal(x, y) {
					t.Fatalf("note k%d differs after import", k)
				}
			}
			// The imported app goes on editing independently of the chunks.
			if err := apply(t, b, 0, notes.Insert("k1", 0, []byte("z"))); err != nil {
				t.Fatal(err)
			}
			if m2, _ := a.Export(replication.NewMemStore()); m2.Root() != m.Root() {
				t.Fatal("editing the import changed the original")
			}
		}
	}
}

func TestImportRejectsBadChunks(t *testing.T) {
	a := notes.New()
	_ = apply(t, a, 5, notes.Put("k", []byte("v")))
	st := replication.NewMemStore()
	m, _ := a.Export(st)
	before := notes.New()
	if err := before.Import(m[:3], st); !errors.Is(err, notes.ErrBadOp) {
		t.Fatalf("short manifest: %v", err)
	}
	bad := replication.NewMemStore()
	junk := []byte("N\x01\x01k\x05\x01v!") // a trailing byte
	h, _ := bad.Put(junk)
	for i := range m {
		if !m[i].IsZero() {
			m[i] = h
		}
	}
	if err := before.Import(m, bad); !errors.Is(err, notes.ErrBadOp) {
		t.Fatalf("junk chunk: %v", err)
	}
	if before.Len() != 0 {
		t.Fatal("a failed import changed the state")
	}
}

func FuzzApply(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte) {
		a := notes.New()
		_ = apply(t, a, 1, notes.Put("k", []byte("some text")))
		before := a.Root()
		if err := apply(t, a, 2, p); err != nil {
			if !errors.Is(err, notes.ErrBadOp) || a.Root() != before {
				t.Fatalf("rejected op: %v (state changed: %v)", err, a.Root() != before)
			}
		}
	})
}

// FuzzImport feeds a chunk as a bucket: a chunk that imports must export
// back to itself (one encoding per bucket).
func FuzzImport(f *testing.F) {
	f.Fuzz(func(t *testing.T, chunk []byte, index uint8) {
		st := replication.NewMemStore()
		h, _ := st.Put(chunk)
		m := make(replication.Manifest, notes.Buckets)
		m[int(index)%notes.Buckets] = h
		a := notes.New()
		if err := a.Import(m, st); err != nil {
			if !errors.Is(err, notes.ErrBadOp) {
				t.Fatalf("undocumented import error: %v", err)
			}
			return
		}
		m2, err := a.Export(replication.NewMemStore())
		if err != nil || m2.Root() != m.Root() || a.Root() != m.Root() {
			t.Fatalf("imported bucket does not export back: %v", err)
		}
	})
}

func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("C2C_WRITE_CORPUS") != "1" {
		t.Skip("set C2C_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	a := notes.New()
	ops := [][]byte{notes.Put("k", []byte("v")), notes.Insert("k", 1, []byte("xy")), notes.Cut("k", 0, 2), notes.Delete("k")}
	for _, p := range ops {
		_ = apply(t, a, 7, p)
	}
	_ = apply(t, a, 9, notes.Put("note", []byte("the text of a note")))
	_ = apply(t, a, 9, notes.Put("n2", []byte("another")))
	st := replication.NewMemStore()
	m, _ := a.Export(st)
	seeds := map[string][][]byte{"FuzzApply": ops}
	fuzzseed.Write(t, seeds)
	// FuzzImport takes two arguments: write its seeds by hand.
	var imp [][]byte
	for i, h := range m {
		if !h.IsZero() {
			c, _ := st.Get(h)
			imp = append(imp, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint8(%d)\n", c, i)))
		}
	}
	if err := os.MkdirAll("testdata/fuzz/FuzzImport", 0o755); err != nil {
		t.Fatal(err)
	}
	for i, b := range imp {
		if err := os.WriteFile(fmt.Sprintf("testdata/fuzz/FuzzImport/seed%02d", i), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
