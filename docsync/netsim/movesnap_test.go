package netsim

import (
	"context"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice"
)

// compactingSequencer is a sequencer that checkpoints every 16 entries
// and keeps 8 behind it.
func compactingSequencer(n *Net) *Sequencer {
	sp := seqservice.DefaultParams()
	sp.CheckpointEvery, sp.KeepHistory, sp.CheckpointWindow = 16, 8, 32
	return n.AddSequencer(seqservice.WithParams(sp))
}

// waitOn waits until every clone of d is on sequencer s and converged.
func waitOn(t *testing.T, d *Doc, s *Sequencer) {
	t.Helper()
	d.Seq = s
	WaitUntil(t, time.Minute, "every clone follows the move", func() bool {
		for _, c := range d.Clones {
			in, err := c.Svc.Info(d.ID)
			if err != nil || in.Sequencer != s.H.ID() {
				return false
			}
		}
		return true
	})
	d.WaitConverged(time.Minute)
}

// editUntilCompactedPast edits in rounds of 20 until clone c compacted
// behind a snapshot after seq (at most 20 rounds).
func editUntilCompactedPast(t *testing.T, d *Doc, rng *rand.Rand, c *Clone, seq uint64, by ...*Clone) {
	t.Helper()
	for range 20 {
		editN(t, d, rng, 20, by...)
		d.WaitConverged(time.Minute)
		if kept := storedEntrySeqs(t, c.DS, d.ID); len(kept) >= 2 && kept[1] > seq+1 {
			return
		}
	}
	t.Fatalf("the clone keeps entries %v: not compacted past seq %d", storedEntrySeqs(t, c.DS, d.ID), seq)
}

// Moves of a document whose members and sequencers compacted: a planned
// move to B, then a takeover to C, each adopted from a member's snapshot
// (the second one's snapshot carries the schedule with the first move);
// a clone offline since before the first move comes back after the second
// and jumps to a member's post-move snapshot.
func TestMovesOfCompactedDoc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seqA, seqB, seqC := compactingSequencer(n), compactingSequencer(n), compactingSequencer(n)
		opt := cloneservice.WithParams(snapshotParams())
		a, b, c := n.AddClone(opt), n.AddClone(opt), n.AddClone(opt)
		d := n.NewDoc(seqA, a, b, c)
		rng := rand.New(rand.NewPCG(51, 52))
		editN(t, d, rng, 10, a, b, c)
		d.WaitConverged(time.Minute)
		offlineAt, _ := c.Svc.Info(d.ID)
		c.StopService()
		d.Clones = []*Clone{a, b}
		editN(t, d, rng, 80, a, b)
		d.WaitConverged(time.Minute)
		if kept := storedEntrySeqs(t, a.DS, d.ID); len(kept) < 2 || kept[1] <= 2 {
			t.Fatalf("clone A keeps entries %v: nothing compacted", kept)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()

		mv, err := a.Svc.Move(ctx, d.ID, seqB.Info(), false)
		if err != nil {
			t.Fatalf("planned move of a compacted document: %v", err)
		}
		waitOn(t, d, seqB)
		// Clone A's snapshot past the move carries the schedule.
		editUntilCompactedPast(t, d, rng, a, mv.Seq, a, b)

		tk, err := a.Svc.Move(ctx, d.ID, seqC.Info(), true)
		if err != nil {
			t.Fatalf("takeover of a compacted document after a move: %v", err)
		}
		editN(t, d, rng, 40, a, b)
		waitOn(t, d, seqC)
		want, _ := a.Svc.Info(d.ID)

		n.StartClone(c, opt)
		d.Clones = []*Clone{a, b, c}
		WaitUntil(t, time.Minute, "the offline clone catches up on C", func() bool {
			in, err := c.Svc.Info(d.ID)
			return err == nil && in.Seq >= want.Seq && in.Applied == in.Seq && in.Sequencer == seqC.H.ID()
		})
		editN(t, d, rng, 10, c, a)
		waitOn(t, d, seqC)
		kept := storedEntrySeqs(t, c.DS, d.ID)
		if len(kept) < 2 || kept[1] <= offlineAt.Seq+1 {
			t.Fatalf("the offline clone keeps entries %v after seq %d: it replayed the gap instead of jumping", kept, offlineAt.Seq)
		}
		for i, x := range d.Clones {
			if st := x.Svc.Stats(); st.Forks != 0 {
				t.Fatalf("clone %d: %+v", i, st)
			}
		}
		in, _ := a.Svc.Info(d.ID)
		t.Logf("handover at %d, takeover at %d, both adopted from snapshots; the clone offline since %d jumped (keeps from %d); seq %d on C",
			mv.Seq, tk.Seq, offlineAt.Seq, kept[1], in.Seq)
	})
}

// An admin invites a member after the document moved and its members
// compacted past the move: the invitation's add-member entry is signed by
// the new sequencer (the invitation carries the schedule), and the invited
// clone joins from the inviter's post-move snapshot and edits.
func TestInviteAfterMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seqA, seqB := compactingSequencer(n), compactingSequencer(n)
		opt := cloneservice.WithParams(snapshotParams())
		a, b := n.AddClone(opt), n.AddClone(opt)
		d := n.NewDoc(seqA, a, b)
		rng := rand.New(rand.NewPCG(53, 54))
		editN(t, d, rng, 40, a, b)
		d.WaitConverged(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		mv, err := a.Svc.Move(ctx, d.ID, seqB.Info(), false)
		if err != nil {
			t.Fatal(err)
		}
		waitOn(t, d, seqB)
		editUntilCompactedPast(t, d, rng, a, mv.Seq, a, b)

		e := n.AddClone(opt)
		if _, err := a.Svc.Invite(ctx, d.ID, e.User, e.Device, docsync.RoleWriter); err != nil {
			t.Fatalf("invite after a move: %v", err)
		}
		d.Clones = []*Clone{a, b, e}
		WaitUntil(t, time.Minute, "the invited clone joins", func() bool {
			in, err := e.Svc.Info(d.ID)
			return err == nil && in.Role == docsync.RoleWriter && in.Applied == in.Seq && in.Seq > 0
		})
		// The snapshot it joined from is past the move: it committed only
		// the entries after that snapshot (none if the invitation's entry
		// was the snapshot's last), and keeps none from before the move.
		eKept := storedEntrySeqs(t, e.DS, d.ID)
		joined, _ := e.Svc.Info(d.ID)
		from := joined.Seq - e.Svc.Stats().Committed
		if from <= mv.Seq || len(eKept) == 0 || eKept[0] != 1 || (len(eKept) > 1 && eKept[1] <= mv.Seq+1) {
			t.Fatalf("the invited clone is at seq %d, committed from %d, keeps entries %v: it did not join from a post-move snapshot (move at %d)",
				joined.Seq, from, eKept, mv.Seq)
		}
		editN(t, d, rng, 10, e, a)
		waitOn(t, d, seqB)
		in, _ := e.Svc.Info(d.ID)
		t.Logf("invited after the move at %d; joined from the snapshot at %d and converged at seq %d on B",
			mv.Seq, from, in.Seq)
	})
}

// A planned move of a compacted document, edits on the new sequencer
// until the members snapshot and compact after the move; then the new
// sequencer and the admin's clone are killed -9 (their pebble files
// copied as they are) and restart: the sequencer from its checkpoint
// (which carries the key schedule), the clone from its post-move
// snapshot, both on the new sequencer, and editing goes on.
func TestMoveOfCompactedDocSurvivesKill(t *testing.T) {
	n := NewLoopback(t)
	sp := seqservice.DefaultParams()
	// The sequencers checkpoint every 16 entries but keep 64: a member
	// that falls behind while the new sequencer restarts, with its own
	// edits pending, replays from the sequencer (it cannot jump to a
	// snapshot with edits pending, docs/snapshots.md).
	sp.CheckpointEvery, sp.KeepHistory, sp.CheckpointWindow = 16, 64, 32
	sopt := seqservice.WithParams(sp)
	cp := snapshotParams()
	cp.ResubmitAfter, cp.FetchRetry, cp.DialInterval = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	copt := cloneservice.WithParams(cp)
	seqA := n.AddSequencer(sopt)
	bDir := t.TempDir()
	seqB := n.StartSequencer(n.AddPeer(nil, openPebble(t, bDir)), sopt)
	aDir := t.TempDir()
	a := n.AddCloneOn(n.AddPeer(nil, openPebble(t, aDir)), copt)
	b := n.AddClone(copt)
	d := n.NewDoc(seqA, a, b)
	rng := rand.New(rand.NewPCG(55, 56))
	editN(t, d, rng, 60, a, b)
	waitConvergedReal(t, d, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mv, err := a.Svc.Move(ctx, d.ID, seqB.Info(), false)
	if err != nil {
		t.Fatalf("planned move of a compacted document: %v", err)
	}
	d.Seq = seqB
	// Edit until A compacted past the move: how many entries 60 edits
	// make depends on how many were composed in flight (fewer on a slow
	// machine or under -race), so a fixed count may not reach a snapshot.
	for i := 0; ; i++ {
		editN(t, d, rng, 20, a, b)
		waitConvergedReal(t, d, time.Minute)
		if kept := storedEntrySeqs(t, a.DS, d.ID); len(kept) >= 2 && kept[1] > mv.Seq+1 {
			break
		}
		if i == 20 {
			t.Fatalf("clone A keeps entries %v: not compacted past the move at %d", storedEntrySeqs(t, a.DS, d.ID), mv.Seq)
		}
	}
	before, _ := a.Svc.Info(d.ID)
	text, _ := a.Svc.Text(d.ID)

	seqAddrs := seqB.H.Addrs()
	seqCopy := crashCopy(t, seqB.Peer, bDir)
	seqB2 := n.StartSequencer(n.StartPeer(seqB.Key, openPebble(t, seqCopy), seqAddrs[0].String()), sopt)
	d.Seq = seqB2
	if h, err := seqB2.Svc.Head(d.ID, docsync.MemberID{}); err != nil || h.Seq != before.Seq || h.ChainHash != before.Head {
		t.Fatalf("restarted sequencer at %d (%v), the clones at %d", h.Seq, err, before.Seq)
	}
	aAddrs := a.H.Addrs()
	aCopy := crashCopy(t, a.Peer, aDir)
	a2 := &Clone{Peer: n.StartPeer(a.Key, openPebble(t, aCopy), aAddrs[0].String()), User: a.User, Device: a.Device, HPKEPriv: a.HPKEPriv}
	n.StartClone(a2, copt)
	after, err := a2.Svc.Info(d.ID)
	text2, _ := a2.Svc.Text(d.ID)
	if err != nil || after.Sequencer != seqB.H.ID() || after.Seq != before.Seq || after.Head != before.Head || text2 != text {
		t.Fatalf("restarted clone on %v at %d (%v), want the new sequencer at %d with the same text (%v)",
			after.Sequencer, after.Seq, err, before.Seq, text2 == text)
	}
	d.Clones = []*Clone{a2, b}
	editN(t, d, rng, 30, a2, b)
	waitConvergedReal(t, d, time.Minute)
	for i, c := range d.Clones {
		if st := c.Svc.Stats(); st.Forks != 0 || st.Rejected != 0 {
			t.Fatalf("clone %d: %+v", i, st)
		}
	}
	end, _ := b.Svc.Info(d.ID)
	t.Logf("moved at %d; killed at %d (the clone compacted past the move); restarted and went on to %d on the new sequencer",
		mv.Seq, before.Seq, end.Seq)
}
