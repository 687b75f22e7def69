package cloneservice_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
)

// EditBase builds from the text and version it edits against, and
// WaitCommitted returns once those edits are committed: the other member
// then reaches the same text, and the clone has nothing pending.
func TestEditBaseAndWaitCommitted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, seq, cl, d := world(t, 2)
		a, b := cl[0], cl[1]
		ctx := context.Background()

		if err := a.Svc.WaitCommitted(ctx, d.ID); err != nil {
			t.Fatalf("nothing pending: %v", err)
		}
		if err := a.Svc.Edit(ctx, d.ID, netsim.Patch(t, 0, 0, 0, "hello world")); err != nil {
			t.Fatal(err)
		}
		var seen cloneservice.Version
		// Replace "world" wherever it is in the text edited against.
		if err := a.Svc.EditBase(ctx, d.ID, func(base cloneservice.Base) ([]ot.Op, error) {
			seen = base.Version
			text := base.Text()
			i := strings.Index(text, "world")
			if i < 0 || base.Len != len([]rune(text)) {
				t.Errorf("base %q of length %d", text, base.Len)
				return nil, nil
			}
			op, err := ot.FromPatch(base.Len, i, 5, "there")
			return []ot.Op{op}, err
		}); err != nil {
			t.Fatal(err)
		}
		if seen.Changes == 0 {
			t.Fatalf("version %+v: the first edit is not in it", seen)
		}
		if err := a.Svc.WaitCommitted(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		in, err := a.Svc.Info(d.ID)
		if err != nil || in.Pending {
			t.Fatalf("after WaitCommitted: %+v, %v", in, err)
		}
		d.WaitConverged(time.Minute)
		if txt, _ := b.Svc.Text(d.ID); txt != "hello there" {
			t.Fatalf("b reads %q", txt)
		}

		// Errors: an unknown document, a context that ends first.
		if err := a.Svc.WaitCommitted(ctx, docsync.DocID{1}); !errors.Is(err, cloneservice.ErrUnknownDoc) {
			t.Fatalf("unknown doc: %v", err)
		}
		seq.StopService()
		if err := a.Svc.Edit(ctx, d.ID, netsim.Patch(t, 11, 11, 0, "!")); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := a.Svc.WaitCommitted(wctx, d.ID); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("with the sequencer down: %v", err)
		}
	})
}

// world starts a sequencer and clones on a simulated network (10 ms one
// way), with one document they are all members of.
func world(t *testing.T, clones int) (*netsim.Net, *netsim.Sequencer, []*netsim.Clone, *netsim.Doc) {
	t.Helper()
	n := netsim.New(t, 10*time.Millisecond)
	seq := n.AddSequencer()
	t.Cleanup(seq.Close)
	var cs []*netsim.Clone
	for range clones {
		c := n.AddClone()
		t.Cleanup(c.Close)
		cs = append(cs, c)
	}
	return n, seq, cs, n.NewDoc(seq, cs...)
}
