package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/files"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
)

type rig struct {
	ds    datastore.Batching
	store *boxostore.Store
	app   *files.App
}

func newRig() *rig {
	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	st := boxostore.New(ds)
	return &rig{ds: ds, store: st, app: files.New(st)}
}

func (r *rig) apply(t testing.TB, at int, p []byte) error {
	t.Helper()
	_, err := r.app.Apply(&replication.Event{Time: replication.Time(at), Payload: p})
	return err
}

func (r *rig) must(t testing.TB, at int, p []byte) {
	t.Helper()
	if err := r.apply(t, at, p); err != nil {
		t.Fatal(err)
	}
}

// blocks counts the blocks and their bytes in the datastore.
func (r *rig) blocks(t testing.TB) (n, size int) {
	t.Helper()
	res, err := r.ds.Query(context.Background(), query.Query{Prefix: "/blocks"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		size += len(e.Value)
	}
	return len(all), size
}

func content(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestOps(t *testing.T) {
	r := newRig()
	steps := []struct {
		op   []byte
		err  error
		want map[string]string // path -> content ("/" for a directory)
	}{
		{files.Put("a", []byte("hello")), nil, map[string]string{"a": "hello"}},
		{files.Write("a", 5, []byte(" world")), nil, map[string]string{"a": "hello world"}},
		{files.Write("a", 0, []byte("J")), nil, map[string]string{"a": "Jello world"}},
		{files.Write("a", 99, []byte("x")), files.ErrBadOp, nil},
		{files.Put("d/x", []byte("x")), files.ErrNoParent, nil},
		{files.Mkdir("d"), nil, map[string]string{"a": "Jello world", "d": "/"}},
		{files.Mkdir("d"), files.ErrExists, nil},
		{files.Put("d/x", []byte("x")), nil, map[string]string{"a": "Jello world", "d": "/", "d/x": "x"}},
		{files.Put("d", []byte("x")), files.ErrExists, nil},
		{files.Rename("d", "d/e"), files.ErrBadOp, nil},
		{files.Rename("a", "d"), files.ErrExists, nil},
		{files.Rename("d", "e"), nil, map[string]string{"a": "Jello world", "e": "/", "e/x": "x"}},
		{files.Rename("nope", "z"), files.ErrNotFound, nil},
		{files.Delete("e"), nil, map[string]string{"a": "Jello world"}},
		{files.Delete("e"), files.ErrNotFound, nil},
		{files.Put("../x", nil), files.ErrBadPath, nil},
		{files.Put("a//b", nil), files.ErrBadPath, nil},
		{[]byte{'p'}, files.ErrBadOp, nil},
		{[]byte{'q', 1, 'a'}, files.ErrBadOp, nil},
		{append(files.Delete("a"), 0), files.ErrBadOp, nil},
	}
	var last map[string]string
	for i, s := range steps {
		before := r.app.Root()
		err := r.apply(t, i, s.op)
		if !errors.Is(err, s.err) || (err == nil) != (s.err == nil) {
			t.Fatalf("step %d: error %v, want %v", i, err, s.err)
		}
		if err != nil {
			if r.app.Root() != before {
				t.Fatalf("step %d: a refused op changed the state", i)
			}
			continue
		}
		last = s.want
		got := map[string]string{}
		for _, l := range r.app.List() {
			if l.Dir {
				got[l.Path] = "/"
				continue
			}
			b, err := r.app.Read(l.Path)
			if err != nil {
				t.Fatal(err)
			}
			got[l.Path] = string(b)
		}
		if fmt.Sprint(got) != fmt.Sprint(last) {
			t.Fatalf("step %d: %v, want %v", i, got, last)
		}
	}
}

// TestIdenticalFilesStoredOnce: the same content under two paths, and in two
// apps on one store (two users of one provider), costs its blocks once; the
// entry keeps the whole content's SHA-256 beside the unixfs root CID.
func TestIdenticalFilesStoredOnce(t *testing.T) {
	r := newRig()
	data := content(1, 3*boxostore.ChunkSize+12345) // 4 leaves and a root
	r.must(t, 1, files.Put("one", data))
	n1, size1 := r.blocks(t)
	r.must(t, 2, files.Put("two", data))
	other := files.New(r.store)
	if _, err := other.Apply(&replication.Event{Time: 3, Payload: files.Put("mine", data)}); err != nil {
		t.Fatal(err)
	}
	n2, size2 := r.blocks(t)
	if n1 != 5 || n2 != n1 || size2 != size1 {
		t.Fatalf("blocks %d (%d bytes) after one copy, %d (%d bytes) after three", n1, size1, n2, size2)
	}
	e1, _ := r.app.Stat("one")
	e2, _ := other.Stat("mine")
	if e1.Ref != e2.Ref || e1.Ref.SHA256 != sha256.Sum256(data) || e1.Ref.Size != uint64(len(data)) {
		t.Fatalf("refs %+v and %+v", e1.Ref, e2.Ref)
	}
	if e1.Ref.CID.Version() != 1 || e1.Ref.CID.Type() != cid.DagProtobuf {
		t.Fatalf("root CID %v", e1.Ref.CID)
	}
	if h, _ := boxostore.HashOf(e1.Ref.CID); h == replication.Hash(e1.Ref.SHA256) {
		t.Fatal("the root CID of a multi-chunk file should not be the file's hash")
	}
	small := []byte("tiny")
	r.must(t, 4, files.Put("tiny", small))
	e, _ := r.app.Stat("tiny")
	if e.Ref.CID.Type() != cid.Raw || e.Ref.SHA256 != sha256.Sum256(small) {
		t.Fatalf("one-chunk file: %v", e.Ref.CID)
	}
}

// resync moves to a mirror what it lacks of the device's state, the way the
// core does (manifest leaves, then Links), and returns the bytes moved and
// the state's total.
func resync(t *testing.T, dev, mir *rig) (moved, total int) {
	t.Helper()
	exp := replication.NewMemStore()
	man, err := dev.app.Export(exp)
	if err != nil {
		t.Fatal(err)
	}
	mine := replication.NewMemStore()
	if _, err := mir.app.Export(mine); err != nil {
		t.Fatal(err)
	}
	fetched := replication.NewMemStore()
	want := append([]replication.Hash(nil), man...)
	for len(want) > 0 {
		h := want[0]
		want = want[1:]
		if h.IsZero() {
			continue
		}
		if ok, _ := mine.Has(h); ok {
			continue
		}
		if ok, _ := fetched.Has(h); ok {
			continue
		}
		b, err := exp.Get(h)
		if err != nil {
			t.Fatal(err)
		}
		links, err := mir.app.Links(b)
		if err != nil {
			t.Fatal(err)
		}
		fetched.Put(b)
		want = append(want, links...)
	}
	src := overlay{fetched, mine}
	if err := mir.app.Import(man, src); err != nil {
		t.Fatal(err)
	}
	if mir.app.Root() != dev.app.Root() || man.Root() != dev.app.Root() {
		t.Fatal("roots differ after the resync")
	}
	return fetched.Bytes(), exp.Bytes()
}

type overlay struct{ a, b replication.ChunkReader }

func (o overlay) Get(h replication.Hash) ([]byte, error) {
	if b, err := o.a.Get(h); err == nil {
		return b, nil
	}
	return o.b.Get(h)
}

// TestResyncMovesOnlyDifferingBlocks: a mirror that missed one write in the
// middle of a large file fetches one bucket, the new root and one leaf.
func TestResyncMovesOnlyDifferingBlocks(t *testing.T) {
	dev, mir := newRig(), newRig()
	for _, r := range []*rig{dev, mir} {
		r.must(t, 1, files.Mkdir("docs"))
		r.must(t, 2, files.Put("docs/big", content(2, 8*boxostore.ChunkSize)))
		r.must(t, 3, files.Put("small", []byte("s")))
	}
	dev.must(t, 4, files.Write("docs/big", 3*boxostore.ChunkSize+10, []byte("divergent")))
	moved, total := resync(t, dev, mir)
	if moved > boxostore.ChunkSize+4096 || total < 8*boxostore.ChunkSize {
		t.Fatalf("moved %d of %d bytes", moved, total)
	}
	got, err := mir.app.Read("docs/big")
	want, _ := dev.app.Read("docs/big")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("mirror's file after the resync: %v", err)
	}
	t.Logf("resync moved %d of %d bytes", moved, total)
}

// TestExportImportRoundTrip: random operations; the incremental root equals
// the manifest's, and a fresh app on an empty store imports the export.
func TestExportImportRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	r := newRig()
	r.must(t, 0, files.Mkdir("d"))
	for i := 1; i < 400; i++ {
		p := fmt.Sprintf("d/f%d", rng.IntN(30))
		var op []byte
		switch rng.IntN(5) {
		case 0:
			op = files.Delete(p)
		case 1:
			op = files.Rename(p, fmt.Sprintf("d/f%d", rng.IntN(30)))
		case 2:
			op = files.Write(p, 0, content(uint64(i), rng.IntN(3000)))
		default:
			op = files.Put(p, content(uint64(i), rng.IntN(5000)))
		}
		_ = r.apply(t, i, op)
	}
	exp := replication.NewMemStore()
	man, err := r.app.Export(exp)
	if err != nil {
		t.Fatal(err)
	}
	if man.Root() != r.app.Root() {
		t.Fatal("incremental root differs from the manifest's")
	}
	fresh := newRig()
	if err := fresh.app.Import(man, exp); err != nil {
		t.Fatal(err)
	}
	if fresh.app.Root() != r.app.Root() || len(fresh.app.List()) != len(r.app.List()) {
		t.Fatal("import differs")
	}
	for _, l := range r.app.List() {
		if l.Dir {
			continue
		}
		a, _ := r.app.Read(l.Path)
		b, err := fresh.app.Read(l.Path)
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s after import: %v", l.Path, err)
		}
	}
}

func FuzzApply(f *testing.F) {
	refSeed, _ := boxostore.NewMem().Add([]byte("seed"))
	for _, p := range [][]byte{files.Put("a", []byte("x")), files.Write("a", 1, []byte("y")), files.Rename("a", "b"),
		files.Delete("b"), files.Mkdir("d"), {'w', 1, 'a', 0xff}, files.PutRef("r", refSeed)} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r := newRig()
		r.must(t, 0, files.Put("a", []byte("seed")))
		before := r.app.Root()
		if err := r.apply(t, 1, p); err != nil && r.app.Root() != before {
			t.Fatal("a refused op changed the state")
		}
	})
}

func FuzzLinksAndImport(f *testing.F) {
	r := newRig()
	r.must(t0(f), 0, files.Put("a", content(5, boxostore.ChunkSize+5)))
	exp := replication.NewMemStore()
	man, _ := r.app.Export(exp)
	for _, h := range man {
		if b, err := exp.Get(h); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, chunk []byte) {
		a := newRig()
		_, _ = a.app.Links(chunk)
		st := replication.NewMemStore()
		h, _ := st.Put(chunk)
		m := make(replication.Manifest, files.Buckets)
		m[0] = h
		before := a.app.Root()
		if err := a.app.Import(m, st); err != nil && a.app.Root() != before {
			t.Fatal("a failed import changed the state")
		}
	})
}

func t0(f *testing.F) testing.TB { return f }

// TestPutRef: a put by reference needs the whole blob in the store; then
// it is the same entry an inline put of that content makes.
func TestPutRef(t *testing.T) {
	data := content(9, 2*boxostore.ChunkSize+3)
	ref, err := boxostore.NewMem().Add(data)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig()
	before := r.app.Root()
	if err := r.apply(t, 1, files.PutRef("big", ref)); !errors.Is(err, files.ErrMissingBlob) || r.app.Root() != before {
		t.Fatalf("put by reference of an absent blob: %v", err)
	}
	// Only the root held: still refused.
	h, _ := boxostore.HashOf(ref.CID)
	root, _ := func() ([]byte, error) { s := boxostore.NewMem(); s.Add(data); return s.Get(h) }()
	r.store.Put(root)
	if err := r.apply(t, 2, files.PutRef("big", ref)); !errors.Is(err, files.ErrMissingBlob) {
		t.Fatalf("put by reference of a partial blob: %v", err)
	}
	if _, err := r.store.Add(data); err != nil {
		t.Fatal(err)
	}
	r.must(t, 3, files.PutRef("big", ref))
	inline := newRig()
	inline.must(t, 3, files.Put("big", data))
	if r.app.Root() != inline.app.Root() {
		t.Fatal("a put by reference and an inline put of the same content differ")
	}
	if got, err := r.app.Read("big"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}
	bad := ref
	bad.Size++
	if err := r.apply(t, 4, files.PutRef("other", bad)); !errors.Is(err, files.ErrMissingBlob) {
		t.Fatalf("a ref whose size is not the blob's: %v", err)
	}
}
