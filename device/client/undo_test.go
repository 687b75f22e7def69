package client_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/device/undo"
	"github.com/clone2clone/c2c/docsync/netsim"
)

// Undo on a device takes back its own edit and leaves another member's
// text, typed inside and after it, where it is; redo puts it back; both go
// to every member like any edit.
func TestUndoKeepsAnotherMembersText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := netsim.New(t, 10*time.Millisecond)
		seq := n.AddSequencer()
		a, b := n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, a, b)
		_, ca := devicetest.Attach(t, n, a, "phone-a", client.WithUndo(0))
		_, cb := devicetest.Attach(t, n, b, "phone-b")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		da, err := ca.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		db, err := cb.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if da.CanUndo() {
			t.Fatal("can undo before any edit")
		}
		if err := db.Undo(); !errors.Is(err, client.ErrNoUndo) {
			t.Fatalf("undo without WithUndo: %v", err)
		}
		if err := da.Edit(netsim.Patch(t, 0, 0, 0, "hello")); err != nil {
			t.Fatal(err)
		}
		waitBoth := func(want string) {
			t.Helper()
			for _, doc := range []*client.Doc{da, db} {
				if err := doc.WaitText(ctx, func(s string) bool { return s == want }); err != nil {
					t.Fatalf("waiting for %q: %v (have %q)", want, err, doc.Text())
				}
			}
		}
		waitBoth("hello")
		if err := db.Edit(netsim.Patch(t, 5, 2, 0, "XY")); err != nil {
			t.Fatal(err)
		}
		if err := db.Edit(netsim.Patch(t, 7, 7, 0, " world")); err != nil {
			t.Fatal(err)
		}
		waitBoth("heXYllo world")
		if err := da.Undo(); err != nil {
			t.Fatal(err)
		}
		waitBoth("XY world")
		if !da.CanRedo() || da.CanUndo() {
			t.Fatalf("after undo: can redo %v, can undo %v", da.CanRedo(), da.CanUndo())
		}
		if err := da.Undo(); !errors.Is(err, undo.ErrEmpty) {
			t.Fatalf("second undo: %v", err)
		}
		if err := da.Redo(); err != nil {
			t.Fatal(err)
		}
		waitBoth("heXYllo world")
		if err := da.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
