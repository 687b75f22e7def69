package docsync

import (
	"bytes"
	"fmt"

	"github.com/clone2clone/c2c/docsync/ot"
)

// HandleEntry takes an ordered entry from the sequencer or any peer, in any
// order and possibly duplicated. The next entry is checked (the checks of
// docs/architecture.md, section 5) and committed; later ones wait for the
// gap to fill (a fetch is requested).
// Any check failure is returned and reported as an event; nothing of a
// failing entry is applied.
func (r *Replica) HandleEntry(e *Entry) error { return r.handle(e, false) }

// HandleSignedEntry is HandleEntry for an entry whose sequencer signature
// VerifyEntrySignature checked already (a topic validator): it is not
// verified a second time. One checked against another key than the one
// that signs its seq is verified again.
func (r *Replica) HandleSignedEntry(v *SignedEntry) error {
	return r.handle(v.e, bytes.Equal(v.by, r.headKey(v.e)))
}

func (r *Replica) handle(e *Entry, signed bool) error {
	if r.proof != nil {
		if e.Head.Doc == r.cfg.Doc && r.followable(e) {
			// Fork recovery (recover.go): the service rolls back to follow
			// it. The same entry again keeps the one recorded, so that a
			// rollback that failed for it is not tried again.
			if c := r.conflict; c == nil || c.Head.Seq != e.Head.Seq || c.Head.ChainHash != e.Head.ChainHash {
				c := *e
				r.conflict = &c
			}
			return fmt.Errorf("%w: the takeover at seq %d continues from seq %d, after the fork", ErrMoveConflict,
				e.Head.Seq, e.Envelope.Parent)
		}
		if e.Head.Doc == r.cfg.Doc && r.crossing(e) {
			return r.cross(e)
		}
		return ErrHalted
	}
	err := r.handleEntry(e, signed)
	if err != nil && err != errDuplicate && err != errStale && r.proof == nil {
		r.reject(e, err)
	}
	if err == errDuplicate || err == errStale {
		return nil
	}
	return err
}

func (r *Replica) handleEntry(e *Entry, signed bool) error {
	if e.Head.Doc != r.cfg.Doc || e.Envelope.Doc != r.cfg.Doc {
		return fmt.Errorf("%w: entry for %v", ErrWrongDoc, e.Head.Doc)
	}
	s := e.Head.Seq
	if mine, ok := r.HeadAt(s); ok && mine.ChainHash == e.Head.ChainHash {
		return errDuplicate // the chain hash commits to the envelope: nothing new
	}
	if _, ok := r.log.HashAt(s); !ok && s <= r.log.Seq() {
		return errDuplicate // before the snapshot this replica joined from: nothing to check it against
	}
	if r.crossing(e) {
		if e.Envelope.Parent <= r.log.Seq() {
			return r.cross(e)
		}
		_ = r.cross(e) // perhaps only behind: fetching finds out
	}
	if !signed {
		if err := r.verifyHead(e); err != nil {
			return err
		}
	}
	if mine, ok := r.HeadAt(s); ok {
		if r.leftBranch(s) {
			return errStale
		}
		if err := r.compareHeads(mine, e.Head); err != nil {
			return err
		}
		return errDuplicate
	}
	if kh, ok := r.knownHeads[s]; ok && !r.isTakeoverAt(e) {
		if err := r.compareHeads(kh, e.Head); err != nil {
			return err
		}
	}
	if s > r.log.Seq()+1 {
		if old, ok := r.pending[s]; ok {
			if err := r.compareHeads(old.Head, e.Head); err != nil {
				return err
			}
			return errDuplicate
		}
		if len(r.pending) < r.cfg.Params.MaxPendingEntries {
			r.pending[s] = e
		}
		r.requestUpTo(s - 1)
		return nil
	}
	if err := r.commit(e); err != nil {
		// Let a later arrival ask for this seq again, from anyone.
		r.fetchedUpTo = r.log.Seq()
		return err
	}
	for r.proof == nil {
		next, ok := r.pending[r.log.Seq()+1]
		if !ok {
			break
		}
		delete(r.pending, next.Head.Seq)
		if err := r.commit(next); err != nil {
			r.reject(next, err)
			r.fetchedUpTo = r.log.Seq()
			break
		}
	}
	return nil
}

// SignedEntry is an entry whose sequencer signature was verified, by
// VerifyEntrySignature: the proof a topic validator hands to the loop so
// that Replica.HandleSignedEntry does not verify it again.
type SignedEntry struct {
	e  *Entry
	by []byte
}

// VerifyEntrySignature verifies e's head signature by the sequencer key.
func VerifyEntrySignature(e *Entry, sequencer []byte) (*SignedEntry, error) {
	return VerifyEntrySignatureIn(nil, e, sequencer)
}

// VerifyEntrySignatureIn is VerifyEntrySignature with the signatures c
// remembers. It also checks the author's signature, so that the
// replica's check of it (LogState.Check) is a digest comparison; an
// author signature that does not verify is left for that check to refuse
// as before, with the entry.
func VerifyEntrySignatureIn(c *SigCache, e *Entry, sequencer []byte) (*SignedEntry, error) {
	if err := e.Head.VerifyIn(c, sequencer); err != nil {
		return nil, err
	}
	_ = e.Envelope.VerifyAuthorIn(c) // marks it checked; a failure is Check's to report
	return &SignedEntry{e: e, by: append([]byte(nil), sequencer...)}, nil
}

// Entry returns the verified entry (do not modify it).
func (v *SignedEntry) Entry() *Entry { return v.e }

// commit checks e as the next entry and applies it.
func (r *Replica) commit(e *Entry) error {
	env := &e.Envelope
	d := env.Digest()
	if want := ChainHash(r.log.HeadHash(), d); want != e.Head.ChainHash {
		return fmt.Errorf("%w: seq %d", ErrChainHash, e.Head.Seq)
	}
	if in := r.inflight; in != nil && in.env.checked == d {
		env.checked = d // the bytes of our own envelope, signed here: Check need not verify them
	}
	op, err := r.log.CheckIn(env, r.cfg.Sigs)
	if err != nil {
		return fmt.Errorf("seq %d: %w", e.Head.Seq, err)
	}
	r.log.Append(env, op)
	r.log.NoteHead(e.Head)
	r.sigs = append(r.sigs, e.Head.Sig)
	r.pushDigest(d)
	delete(r.knownHeads, e.Head.Seq)
	r.ready.Entries = append(r.ready.Entries, e)
	h := e.Head
	r.ready.Head = &h
	if env.Author == r.me && env.Counter > r.counter {
		r.counter = env.Counter // e.g. after losing state: never reuse a counter
	}
	if op != nil {
		r.event(Event{Kind: EventMembership, Seq: e.Head.Seq, Op: op})
		r.takeKeys(op)
		if op.Type == OpMove {
			if op.Takeover {
				r.dropAbandoned(op.Sequencer)
			}
			defer r.moved(e.Head.Seq, op) // after our own move leaves flight
		}
	}
	if len(r.locked) > 0 || r.sealed != nil || (env.Kind == KindEdit && !r.HasEpochKey(env.Epoch)) {
		if len(r.locked) == 0 {
			r.event(Event{Kind: EventLocked, Seq: e.Head.Seq,
				Err: fmt.Errorf("%w: epoch %d", ErrNoEpochKey, env.Epoch)})
		}
		r.locked = append(r.locked, e)
	} else {
		r.applyContent(e)
	}
	r.drainLocked()
	if op != nil {
		r.revalidate()
	}
	r.maybeSend()
	return nil
}

// takeKeys unwraps a key wrapped to us by a committed membership op and
// unchains older epoch keys from it.
func (r *Replica) takeKeys(op *MemberOp) {
	if op.Bundle == nil {
		return
	}
	ct, ok := op.Bundle.keyFor(r.me)
	if !ok {
		return
	}
	k, err := unwrapKey(r.cfg.Doc, op.Bundle.Epoch, r.cfg.Identity, ct)
	if err != nil {
		r.event(Event{Kind: EventLocked, Seq: r.log.Seq(), Err: err})
		return
	}
	r.keys[op.Bundle.Epoch] = k
	r.unchainKeys(op.Bundle.Epoch)
}

// unchainKeys opens the older epoch keys sealed under the key of epoch from.
func (r *Replica) unchainKeys(from uint64) {
	for e := from; e > 1; e-- {
		if r.HasEpochKey(e - 1) {
			break
		}
		sp, ok := r.log.Membership().prevKeys[e]
		if !ok {
			break
		}
		pt, err := openAEAD(r.keys[e], sp.nonce, prevKeyAAD(r.cfg.Doc, e), sp.ct)
		if err != nil || len(pt) != KeySize {
			r.event(Event{Kind: EventLocked, Seq: r.log.Seq(), Err: fmt.Errorf("%w: epoch %d chain", ErrDecrypt, e-1)})
			break
		}
		r.keys[e-1] = EpochKey(pt)
	}
}

func (r *Replica) drainLocked() {
	if r.sealed != nil {
		if err := r.openSealed(); err != nil {
			r.event(Event{Kind: EventLocked, Seq: r.sealed.Head.Seq, Err: err})
			return
		}
		if r.sealed != nil {
			return // still no key
		}
	}
	for len(r.locked) > 0 {
		e := r.locked[0]
		if e.Envelope.Kind == KindEdit && !r.HasEpochKey(e.Envelope.Epoch) {
			return
		}
		r.locked = r.locked[1:]
		r.applyContent(e)
	}
}

// applyContent applies the content of the entry at Applied()+1.
func (r *Replica) applyContent(e *Entry) {
	env := &e.Envelope
	own := r.inflight != nil && env.Author == r.me && env.Counter == r.inflight.env.Counter
	if env.Kind != KindEdit {
		r.pushOp(nil, env.Author)
		if own {
			r.inflight = nil
			r.markPending()
		}
		return
	}
	x, err := r.decodeEdit(e)
	if err != nil {
		r.event(Event{Kind: EventNoop, Seq: e.Head.Seq, Err: err})
		r.pushOp(nil, env.Author)
		return
	}
	var before string // an earlier envelope of ours under this counter (jumppending.go)
	earlier := own && r.inflight.op != nil && env.Digest() != r.inflight.env.Digest()
	if earlier {
		before = r.committed.String()
	}
	if err := r.committed.Apply(x); err != nil {
		r.event(Event{Kind: EventNoop, Seq: e.Head.Seq, Err: fmt.Errorf("%w: %w", ErrBadOp, err)})
		r.pushOp(nil, env.Author)
		return
	}
	r.pushOp(&x, env.Author)
	if earlier {
		r.takeOwnEarlier(before, e.Head.Seq, x)
		return
	}
	if own {
		r.inflight = nil
		r.markPending()
		return
	}
	r.applyRemote(e, x)
}

// decodeEdit decrypts the op and transforms it from its parent to the seq
// before it: against committed p+1..s-1, in order.
func (r *Replica) decodeEdit(e *Entry) (ot.Op, error) {
	env := &e.Envelope
	pt, err := env.OpenEdit(r.keys[env.Epoch])
	if err != nil {
		return ot.Op{}, err
	}
	x, err := ot.Decode(pt)
	if err != nil {
		return ot.Op{}, fmt.Errorf("%w: op: %w", ErrDecrypt, err)
	}
	for s := env.Parent + 1; s < e.Head.Seq; s++ {
		c := r.opAt(s)
		if c == nil {
			continue
		}
		if _, x, err = ot.Transform(*c, x); err != nil {
			return ot.Op{}, fmt.Errorf("%w: transform at %d: %w", ErrBadOp, s, err)
		}
	}
	return x, nil
}

// applyRemote transforms a committed remote op against our in-flight op and
// buffer (both ordered after it) and applies it to the local text.
//
// Crash invariant: after any prefix of persisted Ready output, Restore
// succeeds and loses no acknowledged edit, applies none twice. Restore
// re-derives the in-flight op from its envelope against the persisted
// entries, but takes the buffer as persisted and applies it on top, so the
// persisted buffer must always be based on the text of the entries persisted
// with it: whenever a committed entry transforms the buffer, the new buffer
// goes out in the same Ready as that entry.
func (r *Replica) applyRemote(e *Entry, x ot.Op) {
	var err error
	if r.inflight != nil && r.inflight.op != nil {
		var a ot.Op
		if x, a, err = ot.Transform(x, *r.inflight.op); err != nil {
			panic(fmt.Sprintf("docsync: in-flight transform: %v", err)) // both ops are on the committed text
		}
		r.inflight.op = &a
	}
	if r.buffer != nil {
		var b ot.Op
		if x, b, err = ot.Transform(x, *r.buffer); err != nil {
			panic(fmt.Sprintf("docsync: buffer transform: %v", err))
		}
		r.buffer = &b
		r.markPending() // the persisted buffer must move with the entry (see above)
	}
	if err := r.local.Apply(x); err != nil {
		panic(fmt.Sprintf("docsync: local apply: %v", err))
	}
	r.ready.Updates = append(r.ready.Updates, Update{Seq: e.Head.Seq, Author: e.Envelope.Author, Op: x})
}

// pushOp records the committed op of seq Applied()+1 and its author,
// keeping only the window that a valid parent can reach (MaxParentLag).
func (r *Replica) pushOp(op *ot.Op, author MemberID) {
	r.ops = append(r.ops, op)
	r.opAuthors = append(r.opAuthors, author)
	if len(r.ops) > 2*MaxParentLag {
		cut := len(r.ops) - MaxParentLag
		r.ops = append([]*ot.Op(nil), r.ops[cut:]...)
		r.opAuthors = append([]MemberID(nil), r.opAuthors[cut:]...)
		r.opsBase += uint64(cut)
	}
}

// pushDigest records the envelope digest of the seq just committed,
// keeping the window a snapshot can carry (MaxSnapshotWindow).
func (r *Replica) pushDigest(d Hash) {
	r.digests = append(r.digests, d)
	if len(r.digests) > 2*MaxSnapshotWindow {
		cut := len(r.digests) - MaxSnapshotWindow
		r.digests = append([]Hash(nil), r.digests[cut:]...)
		r.digestsBase += uint64(cut)
	}
}

// opAt returns the committed op of seq s (nil for a no-op), s >= opsBase.
func (r *Replica) opAt(s uint64) *ot.Op { return r.ops[s-r.opsBase] }
