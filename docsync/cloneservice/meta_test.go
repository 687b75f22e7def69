package cloneservice_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
)

// Meta records are written with the edit they come with, not when the
// edit is refused, and are read back after a restart.
func TestEditFuncMetaRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := netsim.New(t, 10*time.Millisecond)
		seq := n.AddSequencer()
		t.Cleanup(seq.Close)
		a := n.AddClone()
		t.Cleanup(a.Close)
		d := n.NewDoc(seq, a)
		ctx := context.Background()
		insert := func(delta int, s string) func(int) ([]ot.Op, error) {
			return func(l int) ([]ot.Op, error) {
				op, err := ot.FromPatch(l+delta, l+delta, 0, s)
				return []ot.Op{op}, err
			}
		}
		with := func(build func(int) ([]ot.Op, error), meta map[string][]byte) func(int) ([]ot.Op, map[string][]byte, error) {
			return func(l int) ([]ot.Op, map[string][]byte, error) {
				ops, err := build(l)
				return ops, meta, err
			}
		}
		if err := a.Svc.EditFuncMeta(ctx, d.ID, with(insert(0, "x"), map[string][]byte{"k/1": []byte("one")})); err != nil {
			t.Fatal(err)
		}
		// An op that does not fit the text is refused, and so is its record.
		if err := a.Svc.EditFuncMeta(ctx, d.ID, with(insert(5, "y"), map[string][]byte{"k/2": []byte("two")})); !errors.Is(err, docsync.ErrBadOp) {
			t.Fatalf("bad op: got %v, want ErrBadOp", err)
		}
		if err := a.Svc.EditFuncMeta(ctx, d.ID, with(insert(0, "z"), map[string][]byte{"": nil})); !errors.Is(err, cloneservice.ErrBadMeta) {
			t.Fatalf("empty key: got %v, want ErrBadMeta", err)
		}
		// Records alone (no ops) are written too.
		if err := a.Svc.EditFuncMeta(ctx, d.ID, with(func(int) ([]ot.Op, error) { return nil, nil }, map[string][]byte{"other": []byte("o")})); err != nil {
			t.Fatal(err)
		}
		check := func(when string) {
			t.Helper()
			if txt, err := a.Svc.Text(d.ID); err != nil || txt != "x" {
				t.Fatalf("%s: text %q, %v; want \"x\"", when, txt, err)
			}
			got, err := a.Svc.Meta(ctx, d.ID, "k/")
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string][]byte{"k/1": []byte("one")}; !maps.EqualFunc(got, want, func(x, y []byte) bool { return string(x) == string(y) }) {
				t.Fatalf("%s: Meta(k/) = %q, want %q", when, got, want)
			}
			all, err := a.Svc.Meta(ctx, d.ID, "")
			if err != nil || len(all) != 2 || string(all["other"]) != "o" {
				t.Fatalf("%s: Meta() = %q, %v; want k/1 and other", when, all, err)
			}
		}
		check("before restart")
		a.StopService()
		n.StartClone(a)
		check("after restart")
		if _, err := a.Svc.Meta(ctx, docsync.DocID{1}, ""); !errors.Is(err, cloneservice.ErrUnknownDoc) {
			t.Fatalf("unknown doc: got %v, want ErrUnknownDoc", err)
		}
	})
}
