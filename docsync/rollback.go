package docsync

import (
	"fmt"

	"github.com/clone2clone/c2c/docsync/ot"
)

// A takeover continues from the head S its admin held; a member that had
// committed more from the previous sequencer (S+1..k) refuses it with
// ErrMoveConflict, since its chain is not the takeover's. Rollback is how
// that member follows it anyway: its entries after S are abandoned, like
// everything the old sequencer signed after the agreed head, and the
// edits among them that were its own become local edits again, to be
// sent to the new sequencer, together with its envelope in flight and its
// buffer. The others' edits after S leave its text; their authors resend
// them to the new sequencer (each is on the same side of the move), so
// they come back once ordered there.

// MoveConflict returns the takeover entry this replica last refused with
// ErrMoveConflict (nil if none): the service then calls Rollback.
func (r *Replica) MoveConflict() *Entry { return r.conflict }

// Rollback returns a replica of this clone that follows the takeover move
// (at seq S+1) from S: upTo are the committed entries 1..S and after the
// entries S+1..Log().Seq() this clone committed from the previous
// sequencer (what it persisted). The new replica's Ready holds the move
// entry, the new Pending (this clone's own edits after S, rebased onto the
// text at S, then its in-flight op and buffer), the envelope to submit,
// and one Update that takes the local text from what the device has to
// the new one. The caller persists it in place of the abandoned entries:
// seqs S+2.. must be deleted in the same batch as the move entry and the
// Pending are written. A replica halted by a fork follows a takeover
// whose base S is on its chain the same way (recover.go), after possibly
// empty: its entries after S, if any, are on a branch the takeover left.
func (r *Replica) Rollback(upTo, after []*Entry, move *Entry) (*Replica, error) {
	return r.RollbackFromSnapshot(nil, upTo, after, move)
}

// RollbackFromSnapshot is Rollback for a clone that compacted its log: it
// restores from its kept snapshot snap (at seq P <= S, verified when it
// was kept) and upTo are the entries P+1..S. A snapshot after S cannot
// serve: the state at S is then out of reach (ErrGap).
func (r *Replica) RollbackFromSnapshot(snap *SealedSnapshot, upTo, after []*Entry, move *Entry) (*Replica, error) {
	return r.follow(snap, upTo, after, nil, move)
}

// follow is Rollback to S = the end of snap and upTo, then bridge (the
// new chain's entries S+1.., none for a rollback, recover.go's
// FollowAcross otherwise) committed as the next entries, then move. Our
// own envelopes that bridge holds stay committed there: they are not
// resent.
func (r *Replica) follow(snap *SealedSnapshot, upTo, after, bridge []*Entry, move *Entry) (*Replica, error) {
	kept := map[uint64]bool{} // counters of our own envelopes on bridge
	for _, e := range bridge {
		if e.Envelope.Author == r.me {
			kept[e.Envelope.Counter] = true
		}
	}
	nr, s, err := r.rebase(snap, upTo, after, kept, move.Envelope.Author)
	if err != nil {
		return nil, err
	}
	nr.holdSend = true // our edits go to the new sequencer, after the move
	for i, e := range bridge {
		if e.Head.Seq != s+1+uint64(i) {
			return nil, fmt.Errorf("%w: bridge entry %d where %d was due", ErrGap, e.Head.Seq, s+1+uint64(i))
		}
		if err := nr.HandleEntry(e); err != nil {
			return nil, fmt.Errorf("docsync: follow across: seq %d: %w", e.Head.Seq, err)
		}
		if nr.log.Seq() != e.Head.Seq || nr.proof != nil {
			return nil, fmt.Errorf("docsync: follow across: seq %d was not committed", e.Head.Seq)
		}
	}
	nr.holdSend = false
	s += uint64(len(bridge))
	if move.Head.Seq != s+1 {
		return nil, fmt.Errorf("%w: the move at seq %d does not follow seq %d", ErrGap, move.Head.Seq, s)
	}
	if err := nr.HandleEntry(move); err != nil {
		return nil, fmt.Errorf("docsync: rollback: the move: %w", err)
	}
	if nr.log.Seq() != s+1 {
		return nil, fmt.Errorf("docsync: rollback: the move was not committed")
	}
	return nr, nil
}

// rebase returns a replica of this clone at S = the end of snap and upTo
// (a prefix of our chain) whose local edits are this clone's own edits
// among after (our entries S+1..Log().Seq(), possibly none), rebased onto
// the text at S, then its in-flight op and buffer; those of our envelopes
// whose counter is in kept (committed on the chain we follow) are taken
// out like the others' edits. Its Ready holds the new Pending and one
// Update (credited to by) that takes the device's text to the new one. A
// halted replica may rebase: the fork is behind S.
func (r *Replica) rebase(snap *SealedSnapshot, upTo, after []*Entry, kept map[uint64]bool, by MemberID) (*Replica, uint64, error) {
	var p uint64
	if snap != nil {
		p = snap.Seq()
	}
	s := p + uint64(len(upTo))
	switch {
	case s+uint64(len(after)) != r.log.Seq():
		return nil, 0, fmt.Errorf("%w: rollback to %d with %d entries after, at seq %d", ErrGap, s, len(after), r.log.Seq())
	case r.Applied() != r.log.Seq() || s+1 < r.opsBase:
		return nil, 0, fmt.Errorf("%w: content after seq %d is not all at hand", ErrNotReady, s)
	}
	for i, e := range after {
		if e.Head.Seq != s+1+uint64(i) {
			return nil, 0, fmt.Errorf("%w: entry %d where %d was due", ErrGap, e.Head.Seq, s+1+uint64(i))
		}
		if h, _ := r.log.HashAt(e.Head.Seq); h != e.Head.ChainHash {
			return nil, 0, fmt.Errorf("%w: entry %d is not ours", ErrChainHash, e.Head.Seq)
		}
	}
	var nr *Replica
	var err error
	if snap != nil {
		nr, err = RestoreFromSnapshot(r.cfg, snap, upTo, nil)
	} else {
		nr, err = Restore(r.cfg, upTo, nil)
	}
	if err != nil {
		return nil, 0, err
	}
	if h, _ := r.log.HashAt(s); h != nr.log.HeadHash() {
		return nil, 0, fmt.Errorf("%w: history 1..%d is not ours", ErrChainHash, s)
	}
	ex := newExcluder(nr.committed.String())
	for _, e := range after {
		if op := r.opAt(e.Head.Seq); op != nil {
			if err := ex.add(*op, e.Envelope.Author == r.me && !kept[e.Envelope.Counter]); err != nil {
				return nil, 0, fmt.Errorf("docsync: rollback at seq %d: %w", e.Head.Seq, err)
			}
		}
	}
	var local *ot.Op // our in-flight op and buffer, on the text at our head
	f := r.inflight
	if f != nil && kept[f.env.Counter] {
		if f.op != nil { // committed on the chain we follow: it comes back from there
			if err := ex.add(*f.op, false); err != nil {
				return nil, 0, fmt.Errorf("docsync: rollback: in flight: %w", err)
			}
		}
		f = nil
	}
	if f != nil && f.op != nil {
		local = f.op
	}
	if r.buffer != nil {
		local = composeOpt(local, r.buffer)
	}
	pending, upd, err := ex.finish(local)
	if err != nil {
		return nil, 0, fmt.Errorf("docsync: rollback: %w", err)
	}
	if pending != nil {
		if err := nr.local.Apply(*pending); err != nil {
			return nil, 0, fmt.Errorf("docsync: rollback: %w", err)
		}
	}
	nr.counter = max(nr.counter, r.counter)
	nr.buffer = pending
	nr.intents = append([]*MemberOp(nil), r.intents...)
	if f != nil && f.intent != nil && f.intent.Type != OpMove {
		nr.intents = append([]*MemberOp{f.intent}, nr.intents...)
	}
	nr.ready = Ready{}
	if upd != nil {
		nr.ready.Updates = []Update{{Seq: s + 1, Author: by, Op: *upd}}
	}
	nr.markPending()
	return nr, s, nil
}

// excluder separates a run of committed ops into our own, rebased onto
// the text before the run (x), and the others' (y, after x): the text
// after the run is base ∘ x ∘ y.
type excluder struct {
	textX string // base ∘ x
	full  string // base ∘ x ∘ y: the text after the ops so far
	x, y  *ot.Op
}

func newExcluder(base string) *excluder { return &excluder{textX: base, full: base} }

// add takes the next committed op (on the text after the ones before).
func (ex *excluder) add(o ot.Op, own bool) error {
	next, err := ot.ApplyString(ex.full, o)
	if err != nil {
		return err
	}
	switch {
	case !own:
		ex.y = composeOpt(ex.y, &o)
	case ex.y == nil:
		ex.x = composeOpt(ex.x, &o)
		ex.textX = next
	default:
		// Move o before y: undo y, transform o past the undo, and redo
		// what is left of y after o.
		invY, err := ot.Invert(*ex.y, ex.textX)
		if err != nil {
			return err
		}
		invY2, o2, err := ot.Transform(invY, o)
		if err != nil {
			return err
		}
		if ex.textX, err = ot.ApplyString(ex.textX, o2); err != nil {
			return err
		}
		ex.x = composeOpt(ex.x, &o2)
		y, err := ot.Invert(invY2, next)
		if err != nil {
			return err
		}
		ex.y = &y
	}
	ex.full = next
	return nil
}

// finish rebases local (on the text after the run) like an own op and
// returns all our edits on the base text, and the op that takes the text
// after the run plus local to the base text plus them (nil: no change).
func (ex *excluder) finish(local *ot.Op) (pending, upd *ot.Op, err error) {
	if ex.y == nil {
		return composeOpt(ex.x, local), nil, nil
	}
	invY, err := ot.Invert(*ex.y, ex.textX)
	if err != nil {
		return nil, nil, err
	}
	if local == nil {
		return ex.x, &invY, nil
	}
	invY2, l2, err := ot.Transform(invY, *local)
	if err != nil {
		return nil, nil, err
	}
	return composeOpt(ex.x, &l2), &invY2, nil
}

// composeOpt composes two optional ops on the same text (nil: none).
func composeOpt(a, b *ot.Op) *ot.Op {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	c, err := ot.Compose(*a, *b)
	if err != nil {
		panic(fmt.Sprintf("docsync: compose: %v", err)) // both ops are on our own text
	}
	return &c
}
