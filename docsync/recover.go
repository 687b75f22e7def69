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
// rebased and resent; a higher one makes the members whose chain differs
// at S follow across (FollowAcross, below: their chain is not the
// takeover's). That is why S is a minimum over reports, and why a report
// that differs already at its first head asks for earlier ones
// (ErrDiverged).

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
	nr, _, err := r.rebase(snap, upTo, after, nil, r.me)
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

// A member whose branch left the others' at d, before the S a recovery
// took over from (it was not connected when the admin collected the
// reports), cannot roll back to S: h(S) is not on its chain. It follows
// across instead (FollowAcross): it fetches the new chain's entries
// d+1..S from any member on it, rolls back to d, commits them and then
// the takeover, each verified as any entry is (the old sequencer's head
// signature, the chain hash, the author's signature and rights), and
// resends its own edits after d that the new chain does not hold.

// CrossedTakeover returns the takeover this replica last refused because
// its base is on a branch our chain left (nil if none): the caller
// fetches the new chain's entries from where ours left it (AgreedPrefix
// on their heads finds d) up to the takeover's base, and calls
// FollowAcross.
func (r *Replica) CrossedTakeover() *Entry { return r.crossed }

// crossing reports whether e is a takeover, signed by the key it names
// and by a current admin, whose base is not on our chain: its parent
// hash differs from ours at that seq, or its base is beyond our head (we
// may be on another branch, or only behind: the caller's AgreedPrefix on
// the new chain's heads tells). Everything is checked that can be
// without the new chain's entries before it.
func (r *Replica) crossing(e *Entry) bool {
	s, env := e.Head.Seq, &e.Envelope
	op, ok := MoveOf(env)
	if !ok || !op.Takeover || s < 2 || env.Parent != s-1 || e.Head.Verify(op.Sequencer) != nil {
		return false
	}
	if env.Parent <= r.log.Seq() {
		if mine, ok := r.log.HashAt(env.Parent); !ok || mine == env.ParentHash {
			return false // before our snapshot, or on our chain (conflicting)
		}
	}
	if ChainHash(env.ParentHash, env.Digest()) != e.Head.ChainHash || env.VerifyAuthor() != nil {
		return false
	}
	m, ok := r.log.Membership().Get(env.Author)
	return ok && m.Role == RoleAdmin && op.Member == env.Author
}

// cross records e, a takeover crossing to another branch, for the
// caller (the same one again keeps the one recorded, so that a follow
// that failed for it is not tried again).
func (r *Replica) cross(e *Entry) error {
	if c := r.crossed; c == nil || c.Head.Seq != e.Head.Seq || c.Head.ChainHash != e.Head.ChainHash {
		c := *e
		r.crossed = &c
	}
	return fmt.Errorf("%w: the takeover at seq %d continues from seq %d of a branch this clone's chain left",
		ErrMoveConflict, e.Head.Seq, e.Envelope.Parent)
}

// FollowAcross returns a replica of this clone that follows move, the
// takeover at seq S+1 whose base is on a branch our chain left at d =
// the end of snap and upTo (our entries 1..d, as for Rollback): after are
// our entries d+1..Log().Seq() and bridge the new chain's entries
// d+1..S, fetched from any member on it. Like Rollback's, the new
// replica's Ready holds the committed entries (bridge and move), the new
// Pending (our own edits among after that bridge does not hold, rebased,
// then our in-flight op unless bridge holds it, and our buffer) and one
// Update for the device. Nothing of bridge is taken unverified: each
// entry is committed as the next one (head signature by the key of its
// seq, chain hash, author signature and rights), and the move must
// continue from the last. The caller persists it in place of our entries
// after d, in one batch.
func (r *Replica) FollowAcross(snap *SealedSnapshot, upTo, after, bridge []*Entry, move *Entry) (*Replica, error) {
	return r.follow(snap, upTo, after, bridge, move)
}

// leftBranch reports whether seq is before the latest takeover we
// committed: a head there that differs from ours is the old sequencer's
// on a branch the document left (the takeover's admin chose our chain),
// not a fork to stop for. A member that followed across meets them from
// the old sequencer and from the members still on that branch.
func (r *Replica) leftBranch(seq uint64) bool {
	t := r.log.LastTakeover()
	return t != nil && seq < t.Head.Seq
}
