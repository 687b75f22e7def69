package docsync

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// Recovery from a sequencer that forked, tampered or withheld (SPORC
// section 4; docs/architecture.md "Recovery"). The members' chains agree
// up to some seq S: after a fork, the last seq every branch shares; after
// a tampered or withheld entry, the last good head. An admin finds S from
// the sequencer-signed heads of the other members' chains (AgreedPrefix:
// the minimum over every chain reported, however many branches there
// are), and moves the document to a new sequencer with a takeover that
// continues from h(S) (TakeoverFrom), its own edits after S rebased like
// a rollback's. Every other member follows the takeover: one with entries
// after S rolls back (Rollback, halted or not), one at S commits it like
// any takeover. Each member resends its own edits from after S, so every
// acknowledged honest edit is ordered exactly once on the new chain.
//
// A seq lower than the true common prefix is safe, only more edits are
// rebased and resent; a higher one leaves the members whose chain differs
// at S unable to follow (their chain is not the takeover's). That is why
// S is a minimum over reports, and why a report that differs already at
// its first head asks for earlier ones (ErrDiverged).

// ErrDiverged: another member's chain already differs from ours at the
// first head it reported; ask it for earlier heads.
var ErrDiverged = errors.New("docsync: chains differ at the first reported head")

// AgreedPrefix returns the last seq at which another member's chain, given
// by its sequencer-signed heads for contiguous seqs in ascending order (the
// heads of the entries it serves, up to its own head), agrees with ours:
// at most the last seq reported and our own seq. Heads are verified with
// the key that signed each seq on our chain; a head before the snapshot
// this replica joined from is skipped (nothing to compare it to).
func (r *Replica) AgreedPrefix(heads []Head) (uint64, error) {
	if len(heads) == 0 {
		return 0, fmt.Errorf("%w: no heads reported", ErrMalformed)
	}
	lo := heads[0].Seq
	if lo == 0 {
		return 0, fmt.Errorf("%w: head at seq 0", ErrMalformed)
	}
	for i := range heads {
		h := &heads[i]
		if h.Doc != r.cfg.Doc {
			return 0, fmt.Errorf("%w: head for %v", ErrWrongDoc, h.Doc)
		}
		if h.Seq != lo+uint64(i) {
			return 0, fmt.Errorf("%w: head %d where %d was due", ErrMalformed, h.Seq, lo+uint64(i))
		}
		if err := h.Verify(r.log.KeyAt(h.Seq)); err != nil {
			return 0, err
		}
	}
	agreed, compared := uint64(0), false
	for _, h := range heads {
		mine, ok := r.log.HashAt(h.Seq)
		if h.Seq > r.log.Seq() {
			break
		}
		if !ok {
			continue // before our snapshot
		}
		if mine != h.ChainHash {
			if !compared && h.Seq > 1 {
				if _, ok := r.log.HashAt(h.Seq - 1); !ok {
					return 0, fmt.Errorf("%w: the chains differ at seq %d, before which this clone compacted", ErrGap, h.Seq)
				}
				return 0, fmt.Errorf("%w: seq %d", ErrDiverged, h.Seq)
			}
			return agreed, nil
		}
		agreed, compared = h.Seq, true
	}
	switch {
	case compared:
		return agreed, nil
	case lo > r.log.Seq():
		return 0, fmt.Errorf("%w: reported heads start at %d, after our head %d", ErrDiverged, lo, r.log.Seq())
	}
	return 0, fmt.Errorf("%w: every reported head is before this clone's snapshot", ErrGap)
}

// TakeoverFrom is Takeover from the head S = the end of snap and upTo,
// an earlier head of our chain than our own: after are our entries
// S+1..Log().Seq() (none when S is our head), abandoned like a rollback's.
// It returns the replica that replaces this one: its Ready holds the new
// Pending, the device's Update (our own edits after S are rebased onto
// the text at S, with our in-flight op and buffer, and sent after the
// move), and the takeover envelope to submit to seqKey. Unlike Takeover
// it serves a replica halted by a fork, and one whose sequencer withholds
// entries it knows exist (they are abandoned). The caller persists the
// replacement as it does a rollback's: the entries after S are deleted in
// the batch that writes the Pending.
func (r *Replica) TakeoverFrom(snap *SealedSnapshot, upTo, after []*Entry, seqKey ed25519.PublicKey, addr string) (*Replica, error) {
	if m, ok := r.log.Membership().Get(r.me); !ok || m.Role != RoleAdmin {
		return nil, fmt.Errorf("%w: only admins move a document", ErrNoWriteRight)
	}
	nr, _, err := r.rebase(snap, upTo, after, r.me)
	if err != nil {
		return nil, err
	}
	if err := nr.Takeover(seqKey, addr); err != nil {
		return nil, err
	}
	return nr, nil
}

// followable reports whether a halted replica should follow e by rolling
// back: a takeover whose base is on our chain, at a seq we committed or
// the next one (conflicting says the rest).
func (r *Replica) followable(e *Entry) bool {
	return e.Head.Seq <= r.log.Seq()+1 && r.conflicting(e, r.log.Seq()+1)
}

// dropAbandoned forgets, after a takeover at seq committed, the entries
// and heads beyond it that the new sequencer key did not sign: the old
// sequencer's, on a chain the document left (they would otherwise be
// compared with the new chain's as a fork).
func (r *Replica) dropAbandoned(key ed25519.PublicKey) {
	for s, e := range r.pending {
		if e.Head.Verify(key) != nil {
			delete(r.pending, s)
		}
	}
	for s, h := range r.knownHeads {
		if h.Verify(key) != nil {
			delete(r.knownHeads, s)
		}
	}
	r.fetchedUpTo = r.log.Seq()
}

// isTakeoverAt reports whether e is a takeover for the next seq signed by
// the key it names: the old sequencer's head known for that seq is on the
// chain the takeover leaves, not a fork of the new one.
func (r *Replica) isTakeoverAt(e *Entry) bool {
	op, ok := MoveOf(&e.Envelope)
	return ok && op.Takeover && e.Head.Seq == r.log.Seq()+1 && e.Head.Verify(op.Sequencer) == nil
}
