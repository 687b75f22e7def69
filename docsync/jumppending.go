package docsync

import (
	"fmt"

	"github.com/clone2clone/c2c/docsync/ot"
)

// A clone that was offline while the sequencer compacted behind its head
// cannot replay the gap, and the entries that its pending edits would be
// transformed against are gone. JumpFromSnapshot continues it from a later
// snapshot anyway and rebases those edits onto the snapshot's text, as
// RollbackFromSnapshot rebases onto an older one, with the difference
// between the two texts standing in for the missing entries (ot.Diff).
//
// No acknowledged edit is lost or committed twice:
//   - an in-flight envelope that committed by the snapshot's seq (its
//     counter is in the snapshot's counters) is in the snapshot's text;
//     only the buffer is rebased;
//   - one that did not is rebased with the buffer and sent again under the
//     same counter, so at most one of the two envelopes ever commits
//     (every member refuses a counter twice). Should the old one commit
//     after all (applyContent: an own counter with another digest), the
//     replica takes its op and moves the local text to it.

// MaxRebaseEdits bounds the code points inserted and deleted between a
// jumping clone's text and the snapshot's that ot.Diff matches one by one
// (time O(text × bound), memory O(bound²)); past it the changed middle of
// the text is replaced whole, and pending edits inside it land at its start.
const MaxRebaseEdits = 4096

// JumpFromSnapshot returns a replica of this clone that continues from snap
// (after our head; it must pass Join with trusted), with our pending edits,
// the envelope in flight, the buffer and queued membership ops, rebased onto
// snap's text. Its Ready holds the new Pending and the envelope to submit,
// and one Update from our local text to the new one. The caller persists
// the snapshot and that Pending in one batch: a restart from the snapshot
// with the old Pending could not re-derive the old envelope.
func (r *Replica) JumpFromSnapshot(snap *SealedSnapshot, trusted func(MemberID) bool) (*Replica, error) {
	k := r.log.Seq()
	switch {
	case r.proof != nil:
		return nil, ErrHalted
	case snap.Seq() <= k:
		return nil, fmt.Errorf("%w: snapshot at %d, our head at %d", ErrNotReady, snap.Seq(), k)
	case r.Applied() != k || r.sealed != nil || len(r.locked) > 0:
		return nil, fmt.Errorf("%w: content up to seq %d is not all applied", ErrNotReady, k)
	case r.inflight != nil && r.inflight.op == nil:
		return nil, fmt.Errorf("%w: a membership op is in flight", ErrNotReady)
	}
	nr, err := Join(r.cfg, snap, trusted)
	if err != nil {
		return nil, err
	}
	if h, ok := nr.log.HashAt(k); ok && h != r.log.HeadHash() {
		return nil, fmt.Errorf("%w: not our chain at our head %d", ErrSnapshotChain, k)
	}
	if nr.sealed != nil {
		return nil, fmt.Errorf("%w: epoch %d of the snapshot", ErrNoEpochKey, snap.Epoch)
	}
	// resent: the in-flight op to send again under its counter (nil if
	// it committed by the snapshot); buf: the buffer. base: their text.
	base, resent, buf := r.committed.String(), (*ot.Op)(nil), r.buffer
	counter := r.counter
	if f := r.inflight; f != nil {
		if snap.Counters[r.me] >= f.env.Counter {
			if base, err = ot.ApplyString(base, *f.op); err != nil { // committed: the buffer's base
				return nil, fmt.Errorf("docsync: jump: %w", err)
			}
		} else {
			resent, counter = f.op, f.env.Counter-1
		}
	}
	nr.counter = max(nr.log.Counter(r.me), counter)
	var upd *ot.Op // from our local text to the new one
	if text := nr.committed.String(); base != text {
		d := ot.Diff(base, text, MaxRebaseEdits)
		for _, p := range []**ot.Op{&resent, &buf} {
			if *p == nil {
				continue
			}
			d2, o2, err := ot.Transform(d, **p)
			if err != nil {
				return nil, fmt.Errorf("docsync: jump: rebase: %w", err)
			}
			d, *p = d2, &o2
		}
		upd = &d
	}
	nr.ready = Ready{Head: nr.ready.Head}
	if upd != nil && !upd.IsNoop() {
		nr.ready.Updates = []Update{{Seq: snap.Seq(), Author: snap.Maker, Op: *upd}}
	}
	// The resent op alone goes in flight, before any queued membership op
	// (it is the one that may reuse the counter); the buffer stays a
	// buffer, so that it survives should the old envelope commit instead.
	for _, o := range []*ot.Op{resent, buf} {
		if o == nil || (o == buf && o.IsNoop()) {
			continue
		}
		if err := nr.local.Apply(*o); err != nil {
			return nil, fmt.Errorf("docsync: jump: %w", err)
		}
		nr.buffer = composeOpt(nr.buffer, o)
		if o == resent {
			nr.maybeSend()
		}
	}
	nr.markPending()
	if nr.inflight == nil {
		nr.maybeSend()
	}
	nr.intents = append([]*MemberOp(nil), r.intents...)
	return nr, nil
}

// takeOwnEarlier handles an earlier envelope of ours committing under the
// counter of the one in flight (a rebased resend after a jump): x, its op
// as every member applied it to before (the committed text before it), is
// ours; the in-flight op is dropped, the local text moves from it to x, and
// the buffer is transformed along.
func (r *Replica) takeOwnEarlier(before string, seq uint64, x ot.Op) {
	inv, err := ot.Invert(*r.inflight.op, before)
	if err != nil {
		panic(fmt.Sprintf("docsync: invert in-flight: %v", err)) // the in-flight op is on the committed text
	}
	d, err := ot.Compose(inv, x)
	if err != nil {
		panic(fmt.Sprintf("docsync: compose: %v", err))
	}
	r.inflight = nil
	if r.buffer != nil {
		var b ot.Op
		if d, b, err = ot.Transform(d, *r.buffer); err != nil {
			panic(fmt.Sprintf("docsync: buffer transform: %v", err))
		}
		r.buffer = &b
	}
	r.markPending()
	if err := r.local.Apply(d); err != nil {
		panic(fmt.Sprintf("docsync: local apply: %v", err))
	}
	r.ready.Updates = append(r.ready.Updates, Update{Seq: seq, Author: r.me, Op: d})
}
