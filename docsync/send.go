package docsync

import (
	"fmt"
	"io"

	"github.com/clone2clone/c2c/docsync/ot"
)

// maybeSend seals the next envelope when nothing of ours is in flight:
// queued membership ops first, then the buffer of composed edits.
func (r *Replica) maybeSend() {
	if r.proof != nil || r.inflight != nil || len(r.locked) > 0 || r.holdSend {
		return
	}
	for len(r.intents) > 0 {
		intent := r.intents[0]
		r.intents = r.intents[1:]
		env, err := r.sealMember(intent)
		if err != nil {
			r.event(Event{Kind: EventDropped, Err: err, Op: intent})
			continue
		}
		r.inflight = &inflight{env: env, intent: intent}
		r.send()
		return
	}
	if r.buffer == nil || r.canEdit() != nil {
		return
	}
	op := *r.buffer
	env, err := r.sealEdit(op)
	if err != nil {
		r.event(Event{Kind: EventDropped, Err: err})
		r.dropLocal()
		return
	}
	r.buffer = nil
	r.inflight = &inflight{env: env, op: &op}
	r.send()
}

func (r *Replica) send() {
	r.markPending()
	r.ready.Submit = append(r.ready.Submit, r.inflight.env)
}

// header returns a new envelope of ours based on the committed head.
func (r *Replica) header(kind Kind, epoch uint64) *Envelope {
	r.counter++
	return &Envelope{Doc: r.cfg.Doc, Author: r.me, Counter: r.counter, Parent: r.log.Seq(),
		ParentHash: r.log.HeadHash(), Epoch: epoch, Kind: kind}
}

func (r *Replica) sealEdit(op ot.Op) (*Envelope, error) {
	epoch := r.log.Membership().Epoch()
	key, ok := r.keys[epoch]
	if !ok {
		return nil, fmt.Errorf("%w: epoch %d", ErrNoEpochKey, epoch)
	}
	pt, err := op.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("docsync: encode op: %w", err)
	}
	if len(pt)+16 > MaxBodyBytes {
		return nil, fmt.Errorf("%w: op of %d bytes", ErrTooLarge, len(pt))
	}
	env := r.header(KindEdit, epoch)
	if err := env.SealEdit(key, r.cfg.Rand, pt); err != nil {
		return nil, err
	}
	env.Sign(r.cfg.Identity.Sign)
	return env, nil
}

// sealMember builds a membership op from an intent against the current
// membership (wrapping keys as needed) and seals it.
func (r *Replica) sealMember(intent *MemberOp) (*Envelope, error) {
	m := r.log.Membership()
	if me, ok := m.Get(r.me); intent.Type != OpGenesis && (!ok || me.Role != RoleAdmin) {
		return nil, fmt.Errorf("%w: no longer an admin", ErrNoWriteRight)
	}
	op := *intent
	op.Bundle = nil
	epoch := m.Epoch()
	switch op.Type {
	case OpGenesis:
		key, err := newEpochKey(r.cfg.Rand)
		if err != nil {
			return nil, err
		}
		epoch = 1
		op.Bundle, err = r.bundle(1, key, nil, []Member{{ID: r.me, HPKEPub: op.HPKEPub}})
		if err != nil {
			return nil, err
		}
	case OpAdd:
		key, ok := r.keys[epoch]
		if !ok {
			return nil, fmt.Errorf("%w: epoch %d", ErrNoEpochKey, epoch)
		}
		var err error
		if op.Bundle, err = r.bundle(epoch, key, nil, []Member{{ID: op.Member, HPKEPub: op.HPKEPub}}); err != nil {
			return nil, err
		}
	case OpRemove:
		prev, ok := r.keys[epoch]
		if !ok {
			return nil, fmt.Errorf("%w: epoch %d", ErrNoEpochKey, epoch)
		}
		key, err := newEpochKey(r.cfg.Rand)
		if err != nil {
			return nil, err
		}
		var to []Member
		for _, mem := range m.Members() {
			if mem.ID != op.Member {
				to = append(to, mem)
			}
		}
		if op.Bundle, err = r.bundle(epoch+1, key, &prev, to); err != nil {
			return nil, err
		}
	}
	if err := m.checkOp(r.me, r.log.Seq()+1, r.log.Sequencer(), &op); err != nil {
		return nil, err
	}
	body, err := op.Marshal()
	if err != nil {
		return nil, fmt.Errorf("docsync: encode member op: %w", err)
	}
	env := r.header(KindMember, epoch)
	env.Body = body
	env.Sign(r.cfg.Identity.Sign)
	return env, nil
}

// bundle wraps key (of epoch) to each member in to, chaining prev under key.
func (r *Replica) bundle(epoch uint64, key EpochKey, prev *EpochKey, to []Member) (*KeyBundle, error) {
	kb := &KeyBundle{Epoch: epoch}
	for _, m := range to {
		ct, err := wrapKey(r.cfg.Doc, epoch, m.ID, m.HPKEPub, key)
		if err != nil {
			return nil, err
		}
		kb.Keys = append(kb.Keys, WrappedKey{Member: m.ID, Ciphertext: ct})
	}
	if prev != nil {
		kb.PrevNonce = make([]byte, NonceSize)
		if _, err := io.ReadFull(r.cfg.Rand, kb.PrevNonce); err != nil {
			return nil, fmt.Errorf("docsync: nonce: %w", err)
		}
		ct, err := sealAEAD(key, kb.PrevNonce, prevKeyAAD(r.cfg.Doc, epoch), prev[:])
		if err != nil {
			return nil, err
		}
		kb.PrevKey = ct
	}
	return kb, nil
}

func newEpochKey(rand io.Reader) (EpochKey, error) {
	var k EpochKey
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return k, fmt.Errorf("docsync: epoch key: %w", err)
	}
	return k, nil
}

// revalidate re-seals or drops our in-flight envelope after a membership
// change made it invalid: an honest sequencer will refuse the old one, and
// clones would too, so it can never commit.
func (r *Replica) revalidate() {
	m := r.log.Membership()
	editsPending := r.buffer != nil || (r.inflight != nil && r.inflight.intent == nil)
	if me, ok := m.Get(r.me); editsPending && (!ok || me.Role < RoleWriter) {
		r.event(Event{Kind: EventDropped, Err: fmt.Errorf("%w: local edits abandoned", ErrNoWriteRight)})
		r.dropLocal()
		return
	}
	f := r.inflight
	if f == nil {
		return
	}
	stale := m.checkEnvelope(f.env) != nil
	if !stale && f.intent != nil {
		op, err := DecodeMemberOp(f.env.Body)
		stale = err != nil || m.checkOp(r.me, r.log.Seq()+1, r.log.Sequencer(), op) != nil
	}
	if !stale {
		return
	}
	r.inflight = nil
	defer r.markPending() // persist the new in-flight/buffer split with the entry that caused it
	if f.intent != nil {
		r.intents = append([]*MemberOp{f.intent}, r.intents...)
		return // maybeSend rebuilds it, or reports why it cannot
	}
	// Re-seal the same (already transformed) op under the current epoch.
	if r.buffer != nil {
		c, err := ot.Compose(*f.op, *r.buffer)
		if err != nil {
			panic(fmt.Sprintf("docsync: compose in-flight and buffer: %v", err))
		}
		r.buffer = &c
	} else {
		r.buffer = f.op
	}
}

// dropLocal abandons our in-flight op and buffer and reverts the local text
// to the committed text, reporting the reverting op as a device update.
func (r *Replica) dropLocal() {
	var pend *ot.Op
	if r.inflight != nil && r.inflight.op != nil {
		pend = r.inflight.op
	}
	if r.buffer != nil {
		if pend == nil {
			pend = r.buffer
		} else if c, err := ot.Compose(*pend, *r.buffer); err == nil {
			pend = &c
		}
	}
	r.inflight, r.buffer = nil, nil
	r.markPending()
	if pend == nil {
		return
	}
	base := r.committed.String()
	inv, err := ot.Invert(*pend, base)
	if err != nil {
		panic(fmt.Sprintf("docsync: invert pending: %v", err))
	}
	if err := r.local.Apply(inv); err != nil {
		panic(fmt.Sprintf("docsync: revert local: %v", err))
	}
	r.ready.Updates = append(r.ready.Updates, Update{Seq: r.Applied(), Author: r.me, Op: inv})
}
