package cloneservice

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
)

// A clone that was offline long enough that the missing range is more than
// members keep (KeepHistory + SnapshotEvery entries), or whose fetch after
// its head was answered "compacted", continues from a member's snapshot
// instead of replaying the gap (docs/snapshots.md). With edits of its own
// pending it does so only once the sequencer itself answered "compacted":
// replay from it is then impossible, and the sequencer refuses the old
// envelope (its parent is before the compacted range). The pending edits
// are rebased onto the snapshot's text (docsync.Replica.JumpFromSnapshot).

// jumpRetry is the least time between two jumps of one document.
const jumpRetry = 30 * time.Second

// maybeJump starts a jump when the gap is that long (loop only). It
// reports whether it did.
func (s *Service) maybeJump(d *docState, now time.Time) bool {
	from, to, ok := d.r.Missing()
	if !ok || to-from+1 <= s.params.KeepHistory+s.params.SnapshotEvery {
		return false
	}
	return s.jump(d, now, false)
}

// jumpCompacted starts a jump when a fetch of the entries after our head
// was answered "compacted": the range is gone wherever we asked, whatever
// heads we know of (after a move we never saw, we may verify none of the
// members' heads). bySequencer: the sequencer answered. Loop only.
func (s *Service) jumpCompacted(d *docState, from uint64, err error, bySequencer bool) {
	var ce *netproto.CompactedError
	if errors.As(err, &ce) && from == d.r.Log().Seq()+1 && from < ce.FirstKept {
		s.jump(d, s.now(), bySequencer)
	}
}

// jump fetches a member's snapshot to continue from, unless one is on
// the way, was tried just now, or our own edits are pending and
// withPending is not set (loop only).
func (s *Service) jump(d *docState, now time.Time, withPending bool) bool {
	if s.params.SnapshotEvery == 0 || (d.r.Busy() && !withPending) || d.jumping || (!d.jumpAt.IsZero() && now.Sub(d.jumpAt) < jumpRetry) || d.stopped() != nil {
		return false
	}
	p, ok := s.randomMember(d)
	if !ok {
		return false
	}
	trusted := map[docsync.MemberID]bool{}
	for _, m := range d.r.Log().Membership().Members() {
		trusted[m.ID] = true
	}
	d.jumping, d.jumpAt = true, now
	doc := d.id
	s.goDo(func(ctx context.Context) {
		snap := s.snapshotFrom(ctx, p, doc)
		s.post(func() { s.jumpTo(doc, snap, trusted, withPending) })
	})
	return true
}

// jumpTo replaces the replica of doc by one joined from snap, if it
// verifies, is ahead, agrees with our chain where the two overlap, and we
// still hold nothing pending or withPending is set (loop only). The
// snapshot, the new compaction point, the deletion of our whole log
// before it and the rebased Pending are one synced batch; the devices get
// the change of text as one op.
func (s *Service) jumpTo(doc docsync.DocID, snap *docsync.SealedSnapshot, trusted map[docsync.MemberID]bool, withPending bool) {
	d := s.docs[doc]
	if d == nil {
		return
	}
	d.jumping = false
	seq := d.r.Log().Seq()
	busy := d.r.Busy()
	if snap == nil || snap.Seq() <= seq || (busy && !withPending) || d.stopped() != nil {
		return
	}
	isTrusted := func(m docsync.MemberID) bool { return trusted[m] }
	var r *docsync.Replica
	var err error
	var pending []byte // the rebased Pending: the old one's envelope cannot be re-derived from the snapshot
	if busy {
		if r, err = d.r.JumpFromSnapshot(snap, isTrusted); err == nil {
			pending, err = r.Ready().Pending.Marshal()
		}
	} else {
		r, err = docsync.Join(s.config(doc, d.meta), snap, isTrusted)
	}
	if err == nil && !busy {
		if h, ok := r.Log().HashAt(seq); ok && h != d.r.Log().HeadHash() {
			err = docsync.ErrSnapshotChain // the snapshot's chain is not ours at our head
		}
	}
	if err != nil {
		s.log.Warn("refused a member's snapshot; replaying the gap", "doc", doc, "err", err)
		return
	}
	oldText := d.r.Text()
	b, err := s.ds.Batch(s.ctx)
	if err == nil {
		err = b.Put(s.ctx, snapKey(doc), snap.Bytes())
	}
	if err == nil {
		err = b.Put(s.ctx, firstKeptKey(doc), binary.BigEndian.AppendUint64(nil, snap.Seq()+1))
	}
	if err == nil && pending != nil {
		err = b.Put(s.ctx, pendingKey(doc), pending)
	}
	for q := max(d.snaps.firstKept, 2); err == nil && q <= seq; q++ {
		err = b.Delete(s.ctx, entryKey(doc, q))
	}
	if err == nil {
		err = b.Commit(s.ctx)
	}
	if err == nil {
		err = s.ds.Sync(s.ctx, docKey(doc))
	}
	if err != nil {
		s.log.Error("cannot persist a member's snapshot; replaying the gap", "doc", doc, "err", err)
		return
	}
	d.r, d.snaps = r, snapState{snap: snap, firstKept: snap.Seq() + 1}
	d.agreed.resetTo(r)  // the snapshot may be on another branch than our old head
	s.followSequencer(d) // the snapshot may be after a move we never saw
	s.log.Info("caught up from a member's snapshot", "doc", doc, "from_seq", seq, "to_seq", snap.Seq(),
		"bytes", len(snap.Bytes()), "pending_rebased", busy)
	if newText := r.Text(); newText != oldText && !busy { // with pending edits, the rebase's Update goes out with the Ready
		op := jupiter.Diff(oldText, newText) // common prefix and suffix kept, the middle replaced
		s.emit(d, Event{Kind: EventUpdate, Seq: snap.Seq(), Op: &op})
		s.observe(d, Change{Kind: EventUpdate, Op: op, Seq: snap.Seq()}, nil)
	}
	s.handleReady(d)
	s.catchUp(d)
}
