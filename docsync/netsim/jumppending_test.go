package netsim

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/seqservice"
)

// A clone goes offline with edits of its own pending: one envelope in
// flight that never reached the sequencer (stopped at the time) and a
// buffer with an insert and a delete. The others edit far past the
// sequencer's compaction point, so nobody can replay the gap to it. Back
// online it continues from a member's snapshot with its edits rebased
// onto the snapshot's text, and every member ends with each of them
// exactly once. The sequencer still holds the chain hash at the old
// envelope's parent when c resends it: it refuses the envelope because the
// entries after that parent are compacted (seqservice parentKept), where
// it would otherwise order it with a parent that c, joined from the
// snapshot, cannot transform from (the test then fails, now and then).
func TestLongOfflineCloneWithPendingEditsJumps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		sp := seqservice.DefaultParams()
		sp.CheckpointEvery, sp.KeepHistory, sp.CheckpointWindow = 16, 8, 32
		sopt := seqservice.WithParams(sp)
		seq := n.AddSequencer(sopt)
		opt := cloneservice.WithParams(snapshotParams())
		a, b, c := n.AddClone(opt), n.AddClone(opt), n.AddClone(opt)
		d := n.NewDoc(seq, a, b, c)
		ctx := context.Background()
		edit := func(x *Clone, pos, del int, ins string) {
			t.Helper()
			err := x.Svc.EditFunc(ctx, d.ID, func(l int) ([]ot.Op, error) {
				op, err := ot.FromPatch(l, min(pos, l), del, ins)
				return []ot.Op{op}, err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		edit(a, 0, 0, "HEAD the text TAIL")
		d.WaitConverged(time.Minute)
		before, _ := c.Svc.Info(d.ID)

		// c's edits while the sequencer is down: "<C1>" goes in flight and
		// is lost, "<C2>" and the deletion of "HEAD" wait in the buffer.
		seq.StopService()
		edit(c, 5, 0, "<C1>")
		edit(c, 1<<30, 0, "<C2>")
		edit(c, 0, 4, "")
		if in, _ := c.Svc.Info(d.ID); !in.Pending {
			t.Fatal("c holds nothing pending")
		}
		c.StopService()
		// Virtual time: c stays offline past gossipsub's message cache,
		// so nobody hands its envelope to the sequencer when it returns.
		time.Sleep(30 * time.Second)
		d.Seq = n.StartSequencer(seq.Peer, sopt)
		d.Clones = []*Clone{a, b}
		rng := rand.New(rand.NewPCG(49, 50))
		for i := range 90 { // lowercase inserts only: c's marks stay whole
			edit([]*Clone{a, b}[i%2], rng.IntN(1<<10), 0, string(rune('a'+rng.IntN(26))))
			d.WaitConverged(time.Minute) // one entry per edit
		}
		d.WaitConverged(time.Minute)
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var ce *netproto.CompactedError
		if es, err := netproto.FetchHistory(fctx, a.H, d.Seq.H.ID(), d.ID, before.Seq+1, before.Seq+10); len(es) != 0 || !errors.As(err, &ce) {
			t.Fatalf("the sequencer still serves the entries after c's head %d: %d entries, %v", before.Seq, len(es), err)
		}

		n.StartClone(c, opt)
		d.Clones = []*Clone{a, b, c}
		d.WaitConverged(time.Minute)
		text, _ := a.Svc.Text(d.ID)
		marks := strings.Map(func(r rune) rune {
			if r == ' ' || (r >= 'a' && r <= 'z') {
				return -1
			}
			return r
		}, text)
		if marks != "<C1>TAIL<C2>" { // each of c's edits once, HEAD deleted
			t.Fatalf("the converged text %q holds %q besides the others' letters", text, marks)
		}
		kept := storedEntrySeqs(t, c.DS, d.ID)
		if len(kept) < 2 || kept[1] <= before.Seq+1 {
			t.Fatalf("c keeps entries %v after its head %d: it did not jump", kept, before.Seq)
		}
		after, _ := c.Svc.Info(d.ID)
		t.Logf("c offline at seq %d with 3 edits pending, the sequencer compacted before %d; c jumped and converged at %d",
			before.Seq, ce.FirstKept, after.Seq)
	})
}
