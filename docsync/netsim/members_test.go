package netsim

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/seqservice"
)

// Remove and ChangeRole through the service: a removed clone can no longer
// edit and the others go on; a reader cannot edit.
func TestRemoveAndChangeRole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		a, b, c := n.AddClone(), n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, a, b, c)
		ctx := context.Background()
		if err := c.Svc.Edit(ctx, d.ID, mustPatch(t, 0, 0, "from c")); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		if err := a.Svc.Remove(ctx, d.ID, c.Svc.ID()); err != nil {
			t.Fatal(err)
		}
		if err := a.Svc.ChangeRole(ctx, d.ID, b.Svc.ID(), docsync.RoleReader); err != nil {
			t.Fatal(err)
		}
		members, err := a.Svc.Members(d.ID)
		if err != nil || len(members) != 2 {
			t.Fatalf("members after removal: %v %v", members, err)
		}
		WaitUntil(t, time.Minute, "removal and role change reach the others", func() bool {
			ib, _ := b.Svc.Info(d.ID)
			ic, _ := c.Svc.Info(d.ID)
			return ib.Role == docsync.RoleReader && ic.Role == 0
		})
		if err := c.Svc.EditFunc(ctx, d.ID, RandomEdit(rand.New(rand.NewPCG(1, 2)))); !errors.Is(err, docsync.ErrNotReady) {
			t.Fatalf("removed clone edits: %v", err)
		}
		if err := b.Svc.EditFunc(ctx, d.ID, RandomEdit(rand.New(rand.NewPCG(1, 2)))); !errors.Is(err, docsync.ErrNotReady) {
			t.Fatalf("reader edits: %v", err)
		}
		if err := a.Svc.Edit(ctx, d.ID, mustPatchLen(t, 6, 6, 0, " and a")); err != nil {
			t.Fatal(err)
		}
		d.Clones = []*Clone{a, b}
		d.WaitConverged(time.Minute)
		if txt, _ := b.Svc.Text(d.ID); txt != "from c and a" {
			t.Fatalf("text %q", txt)
		}
		in, _ := a.Svc.Info(d.ID)
		if in.Epoch != 2 {
			t.Fatalf("epoch %d after a removal, want 2", in.Epoch)
		}
	})
}

// A sequencer that refuses a document makes Create fail at once.
func TestCreateRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		p := seqservice.DefaultParams()
		p.MaxDocs = 1
		seq := n.AddSequencer(seqservice.WithParams(p))
		a := n.AddClone()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := a.Svc.Create(ctx, seq.Info()); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Create(ctx, seq.Info()); !errors.Is(err, netproto.ErrRefused) {
			t.Fatalf("second document on a full sequencer: %v", err)
		}
		if docs := a.Svc.Docs(); len(docs) != 2 {
			t.Fatalf("%d docs tracked", len(docs))
		}
	})
}
