package journal

import (
	"context"
	"errors"
	"testing"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

func TestAppendReplayReopen(t *testing.T) {
	ctx := context.Background()
	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	j, err := Open(ctx, ds, "/mirror")
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, NewRec('a').U(7).B([]byte("x")), NewRec('b').I(-3)); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, NewRec('c')); err != nil {
		t.Fatal(err)
	}
	j2, err := Open(ctx, ds, "/mirror")
	if err != nil || j2.Len() != 3 {
		t.Fatalf("reopen: len %d, err %v", j2.Len(), err)
	}
	var kinds []byte
	err = j2.Replay(ctx, func(i uint64, rec []byte) error {
		k, r := Read(rec)
		kinds = append(kinds, k)
		switch k {
		case 'a':
			if r.U() != 7 || string(r.B()) != "x" {
				t.Fatal("record a")
			}
		case 'b':
			if r.I() != -3 {
				t.Fatal("record b")
			}
		}
		return r.End()
	})
	if err != nil || string(kinds) != "abc" {
		t.Fatalf("replay %q, err %v", kinds, err)
	}
	// A lost record is an error, not a skip.
	if err := ds.Delete(ctx, j2.key(2)); err != nil {
		t.Fatal(err)
	}
	j3, _ := Open(ctx, ds, "/mirror")
	if err := j3.Replay(ctx, func(uint64, []byte) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("gap: err %v", err)
	}
	// A truncated record reads as corrupt.
	_, r := Read([]byte{'a', 5, 1})
	r.B()
	if !errors.Is(r.End(), ErrCorrupt) {
		t.Fatal("truncated record accepted")
	}
}
