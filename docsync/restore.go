package docsync

import (
	"fmt"

	"github.com/clone2clone/c2c/docsync/ot"
)

// Restore rebuilds a replica after a restart from what the caller persisted
// out of Ready: the committed entries in seq order and the last Pending. The
// entries are re-verified. Afterwards Ready holds only the in-flight envelope
// to resend (counters make a resend idempotent) and any events.
func Restore(cfg Config, entries []*Entry, p *Pending) (*Replica, error) {
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return r.restoreOnto(entries, p)
}

// restoreOnto replays persisted entries (the ones after r's seq) and the
// last Pending onto a fresh or snapshot-joined replica.
func (r *Replica) restoreOnto(entries []*Entry, p *Pending) (*Replica, error) {
	start := r.log.Seq()
	for _, e := range entries {
		if err := r.HandleEntry(e); err != nil {
			return nil, fmt.Errorf("docsync: restore seq %d: %w", e.Head.Seq, err)
		}
		// Of the replay only the events are output: dropping the rest as it
		// goes keeps start-up memory at the size of the text, not of every
		// op and entry in the history.
		r.ready.Updates, r.ready.Entries = nil, nil
	}
	if r.log.Seq() != start+uint64(len(entries)) {
		return nil, fmt.Errorf("docsync: restore: %w: entries not contiguous", ErrGap)
	}
	r.ready = Ready{Events: r.ready.Events}
	if p == nil {
		return r, nil
	}
	r.counter = max(r.counter, p.Counter)
	if f := p.InFlight; f != nil && f.Author == r.me && f.Counter > r.log.Counter(r.me) {
		if err := r.restoreInFlight(f); err != nil {
			return nil, err
		}
	}
	if p.Buffer != nil {
		if err := r.local.Apply(*p.Buffer); err != nil {
			return nil, fmt.Errorf("docsync: restore buffer: %w", err)
		}
		b := *p.Buffer
		r.buffer = &b
	}
	r.revalidate()
	if r.inflight != nil {
		r.Resubmit()
	}
	r.maybeSend()
	return r, nil
}

// restoreInFlight re-derives the in-flight op by decrypting our own envelope
// and transforming it from its parent to the applied seq.
func (r *Replica) restoreInFlight(env *Envelope) error {
	if env.Kind == KindMember {
		op, err := DecodeMemberOp(env.Body)
		if err != nil {
			return fmt.Errorf("docsync: restore in-flight: %w", err)
		}
		intent := *op
		intent.Bundle = nil // rebuilt by sealMember if the op must be sealed again
		r.inflight = &inflight{env: env, intent: &intent}
		return nil
	}
	key, ok := r.keys[env.Epoch]
	if !ok || env.Parent > r.Applied() || env.Parent+1 < r.opsBase {
		return fmt.Errorf("docsync: restore in-flight: %w: epoch %d", ErrNoEpochKey, env.Epoch)
	}
	pt, err := env.OpenEdit(key)
	if err != nil {
		return fmt.Errorf("docsync: restore in-flight: %w", err)
	}
	x, err := ot.Decode(pt)
	if err != nil {
		return fmt.Errorf("docsync: restore in-flight: %w", err)
	}
	for s := env.Parent + 1; s <= r.Applied(); s++ {
		if c := r.opAt(s); c != nil {
			if _, x, err = ot.Transform(*c, x); err != nil {
				return fmt.Errorf("docsync: restore in-flight: %w", err)
			}
		}
	}
	if err := r.local.Apply(x); err != nil {
		return fmt.Errorf("docsync: restore in-flight: %w", err)
	}
	r.inflight = &inflight{env: env, op: &x}
	return nil
}
