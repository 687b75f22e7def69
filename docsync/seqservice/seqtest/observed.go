// Package seqtest holds test tools for the sequencer service: a Byzantine
// sequencer (sequencer.Byzantine) wrapped as a sequencer.Orderer, to plug
// into seqservice with WithSequencer in tests, the demo and the
// `c2c byzantine-sequencer` test-tool command. Production code never
// imports it.
package seqtest

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// Observed wraps a Byzantine sequencer as a sequencer.Orderer. It
// serializes the calls (the service's loop orders while stream handlers
// serve history) and notes when the sequencer first misbehaved, so
// detection can be timed from that instant.
type Observed struct {
	mu    sync.Mutex
	byz   *sequencer.Byzantine
	first time.Time
}

var _ sequencer.Orderer = (*Observed)(nil)

// Observe wraps b. Set b.Victims before the service starts, or make it safe
// to call concurrently: it runs under Observed's lock.
func Observe(b *sequencer.Byzantine) *Observed { return &Observed{byz: b} }

// ErrRefused: the Byzantine sequencer's own checks refused the envelope.
var ErrRefused = fmt.Errorf("seqtest: envelope refused")

// Order implements sequencer.Orderer: its main log is persisted, its
// deliveries published.
func (o *Observed) Order(env *docsync.Envelope) (sequencer.Ordered, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	before, accepted := len(o.byz.Main()), o.byz.Checked().Seq()
	out := o.byz.Submit(env)
	if o.byz.Checked().Seq() == accepted {
		return sequencer.Ordered{}, ErrRefused
	}
	// Drop forges nothing: its misbehaviour is the first envelope it
	// swallows (resends of committed envelopes come seconds later).
	misbehaved := len(o.byz.Forged) > 0 || (o.byz.Behaviour == sequencer.Drop && len(out) == 0)
	if misbehaved && o.first.IsZero() {
		o.first = time.Now()
	}
	return sequencer.Ordered{Log: append([]*docsync.Entry(nil), o.byz.Main()[before:]...), Publish: out}, nil
}

// Restore implements sequencer.Orderer.
func (o *Observed) Restore(e *docsync.Entry) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byz.Restore(e)
}

// Log implements sequencer.Orderer.
func (o *Observed) Log() *docsync.LogState { return o.byz.Checked() }

// Head implements sequencer.Orderer: a view of who's, never published to
// everyone.
func (o *Observed) Head(who docsync.MemberID) (docsync.Head, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byz.Head(who), false
}

// History implements sequencer.Orderer: who's view of the log.
func (o *Observed) History(who docsync.MemberID, from, to uint64, _ func(from, to uint64) [][]byte) ([][]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out [][]byte
	for _, e := range o.byz.Fetch(who, from, to) {
		b, err := e.Marshal()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
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

// Byzantine returns a factory for seqservice.WithSequencer: every document
// gets a Byzantine sequencer misbehaving as b from seq at on, with victims
// as an equivocation's second branch (nil: nobody).
func Byzantine(b sequencer.Behaviour, at uint64, victims func(docsync.MemberID) bool) seqservice.Factory {
	return func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
		s := sequencer.NewByzantine(doc, key, b, at)
		if victims != nil {
			s.Victims = victims
		}
		return Observe(s)
	}
}

// ParseBehaviour reads a behaviour's name (as Behaviour.String writes it).
func ParseBehaviour(name string) (sequencer.Behaviour, error) {
	for _, b := range sequencer.Behaviours {
		if b.String() == name {
			return b, nil
		}
	}
	return 0, fmt.Errorf("seqtest: behaviour %q: want one of %s", name, BehaviourNames())
}

// BehaviourNames lists the behaviours' names, comma-separated.
func BehaviourNames() string {
	names := make([]string, 0, len(sequencer.Behaviours))
	for _, b := range sequencer.Behaviours {
		names = append(names, b.String())
	}
	return strings.Join(names, ", ")
}
