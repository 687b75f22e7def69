package docsync

import "github.com/clone2clone/c2c/docsync/ot"

// Presence support: carets travel between clones as positions of the
// committed text at a seq, the one version every member agrees on; each
// clone maps them to and from its local text (committed plus its pending
// edits). Nothing here is sequenced or persisted.

// CurrentKey returns the document's current key epoch and its key; ok is
// false while this clone does not hold it.
func (r *Replica) CurrentKey() (epoch uint64, key EpochKey, ok bool) {
	epoch = r.log.Membership().Epoch()
	key, ok = r.keys[epoch]
	return epoch, key, ok
}

// CommittedPos maps pos, a position of the local text, to the committed
// text at Applied() (returned as seq): a position inside this clone's
// pending inserts goes to where they start.
func (r *Replica) CommittedPos(pos int) (seq uint64, committed int) {
	if r.buffer != nil {
		pos = ot.UntransformIndex(*r.buffer, pos)
	}
	if r.inflight != nil && r.inflight.op != nil {
		pos = ot.UntransformIndex(*r.inflight.op, pos)
	}
	return r.Applied(), pos
}

// CommittedAt maps pos of the committed text at seq to the committed text
// at Applied(), through the committed ops in between; ok is false if seq
// is past Applied() or older than the ops kept. An insert by owner exactly
// at the caret moves it past the inserted text (the owner typed it).
func (r *Replica) CommittedAt(seq uint64, pos int, owner MemberID) (int, bool) {
	if seq > r.Applied() || seq < r.opsBase {
		return 0, false
	}
	for s := seq + 1; s <= r.Applied(); s++ {
		if op := r.opAt(s); op != nil {
			pos = ot.TransformIndex(*op, pos, r.opAuthors[s-r.opsBase] == owner)
		}
	}
	return pos, true
}

// LocalPos maps pos of the committed text at seq to the local text
// (CommittedAt, then through this clone's pending edits, before which
// another member's caret stays).
func (r *Replica) LocalPos(seq uint64, pos int, owner MemberID) (int, bool) {
	pos, ok := r.CommittedAt(seq, pos, owner)
	if !ok {
		return 0, false
	}
	own := owner == r.me
	if r.inflight != nil && r.inflight.op != nil {
		pos = ot.TransformIndex(*r.inflight.op, pos, own)
	}
	if r.buffer != nil {
		pos = ot.TransformIndex(*r.buffer, pos, own)
	}
	return pos, true
}
