package seqservice

import (
	"sync"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// Observed wraps a Byzantine sequencer for WithSequencer, for tests, the
// demo and the scale scenarios. It serializes the calls (the service's loop
// submits while stream handlers fetch and read heads) and notes when the
// sequencer first misbehaved, so detection can be timed from that instant.
type Observed struct {
	mu    sync.Mutex
	byz   *sequencer.Byzantine
	first time.Time
}

var _ sequencer.Node = (*Observed)(nil)

// Observe wraps b. Set b.Victims before the service starts, or make it safe
// to call concurrently: it runs under Observed's lock.
func Observe(b *sequencer.Byzantine) *Observed { return &Observed{byz: b} }

// Submit implements sequencer.Node.
func (o *Observed) Submit(env *docsync.Envelope) []sequencer.Delivery {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.byz.Submit(env)
	// Drop forges nothing: its misbehaviour is the first envelope it
	// swallows (resends of committed envelopes come seconds later).
	misbehaved := len(o.byz.Forged) > 0 || (o.byz.Behaviour == sequencer.Drop && len(out) == 0)
	if misbehaved && o.first.IsZero() {
		o.first = time.Now()
	}
	return out
}

// Fetch implements sequencer.Node.
func (o *Observed) Fetch(who docsync.MemberID, from, to uint64) []*docsync.Entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byz.Fetch(who, from, to)
}

// Head implements sequencer.Node.
func (o *Observed) Head(who docsync.MemberID) docsync.Head {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byz.Head(who)
}

// MisbehavedAt returns when the sequencer first misbehaved (zero if it has
// not yet) and the chain hashes of the entries it forged.
func (o *Observed) MisbehavedAt() (time.Time, map[docsync.Hash]bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	forged := make(map[docsync.Hash]bool, len(o.byz.Forged))
	for _, e := range o.byz.Forged {
		forged[e.Head.ChainHash] = true
	}
	return o.first, forged
}
