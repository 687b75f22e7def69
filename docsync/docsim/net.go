// Package docsim is a deterministic in-memory network for CloneDoc: clones
// (docsync.Replica), a sequencer (honest or Byzantine) and seeded random
// delays, reorders and duplicates, and cuts that drop what crosses them (a
// partition, partition.go). Scenarios drive it with random edits and
// membership changes and then check convergence or detection.
package docsim

import (
	"container/heap"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// NetParams shape the simulated network.
type NetParams struct {
	MaxDelay   int     // each message takes 1..MaxDelay ticks
	DupProb    float64 // probability a published entry is delivered twice
	HeadFanout int     // clones a new head is gossiped to
	MaxEvents  int     // safety bound on delivered messages
}

// DefaultNetParams returns the default NetParams.
func DefaultNetParams() NetParams {
	return NetParams{MaxDelay: 8, DupProb: 0.05, HeadFanout: 3, MaxEvents: 5_000_000}
}

// Clone is one simulated clone and what it persisted and reported.
type Clone struct {
	Index      int
	Identity   *docsync.Identity
	Replica    *docsync.Replica
	Committed  []*docsync.Entry
	Pending    *docsync.Pending // the last one persisted
	Rollbacks  int              // takeovers followed by a rollback (route.go)
	Crossings  int              // takeovers followed across from another branch (route.go)
	crossTried *docsync.Entry   // the crossed takeover last tried (not tried again)
	Events     []docsync.Event
	Updates    int
}

// msg is a scheduled delivery from node `from` to node `to`: a clone's
// index, or a sequencer's ID (negative; -1 is the first, route.go).
type msg struct {
	at, order, from, to int
	run                 func()
}

type queue []*msg

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].order < q[j].order
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*msg)) }
func (q *queue) Pop() any {
	old := *q
	m := old[len(old)-1]
	*q = old[:len(old)-1]
	return m
}

// Net is the simulated network. It is single-threaded and fully determined
// by its seed (apart from HPKE randomness, which never changes behaviour).
type Net struct {
	Rand      *rand.Rand
	Params    NetParams
	Doc       docsync.DocID
	SeqKey    ed25519.PrivateKey
	Sequencer sequencer.Node
	Clones    []*Clone
	Now       int
	Delivered int

	// Cut, if set, drops every message from one node to another it
	// reports cut (a partition, partition.go); Dropped counts them.
	Cut     func(from, to int) bool
	Dropped int

	q      queue
	order  int
	held   map[int]bool
	parked []*msg
	others map[string]sequencer.Node // sequencers a document can move to, by key
	seqIDs map[string]int            // their node IDs, by key
}

// NewNet returns an empty network with the given seed and sequencer factory.
func NewNet(seed uint64, p NetParams, mkSeq func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Node) *Net {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n := &Net{Rand: rng, Params: p, held: map[int]bool{}}
	for i := range n.Doc {
		n.Doc[i] = byte(rng.Uint32())
	}
	_, n.SeqKey, _ = ed25519.GenerateKey(readerOf(rng))
	n.Sequencer = mkSeq(n.Doc, n.SeqKey)
	return n
}

// readerOf adapts the seeded generator to io.Reader for keys and nonces.
type rngReader struct{ r *rand.Rand }

func (r rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}

func readerOf(r *rand.Rand) rngReader { return rngReader{r} }

// AddClone creates a clone; create=true makes it the document's creator.
func (n *Net) AddClone(create bool) (*Clone, error) {
	id, err := docsync.NewIdentity(readerOf(n.Rand))
	if err != nil {
		return nil, err
	}
	cfg := docsync.Config{Doc: n.Doc, Sequencer: n.SeqKey.Public().(ed25519.PublicKey),
		Identity: id, Rand: readerOf(n.Rand)}
	var r *docsync.Replica
	if create {
		r, err = docsync.Create(cfg)
	} else {
		r, err = docsync.New(cfg)
	}
	if err != nil {
		return nil, err
	}
	c := &Clone{Index: len(n.Clones), Identity: id, Replica: r}
	n.Clones = append(n.Clones, c)
	// A late joiner learns the head from the sequencer and fetches history.
	n.sendFrom(-1, c.Index, func() { c.handle(n, func() error { return r.HandleHead(n.Sequencer.Head(c.Replica.ID())) }) })
	n.Drain(c)
	return c, nil
}

func (n *Net) delay() int { return 1 + n.Rand.IntN(max(1, n.Params.MaxDelay)) }

// sendFrom schedules run at node to, sent by node from, after a random delay.
func (n *Net) sendFrom(from, to int, run func()) {
	n.order++
	heap.Push(&n.q, &msg{at: n.Now + n.delay(), order: n.order, from: from, to: to, run: run})
}

// Hold parks every message to clone i until Release (a partition).
func (n *Net) Hold(i int) { n.held[i] = true }

// Release delivers the messages parked for clone i, in their original order.
func (n *Net) Release(i int) {
	delete(n.held, i)
	kept := n.parked[:0]
	for _, m := range n.parked {
		if m.to == i {
			m.at = n.Now + 1
			heap.Push(&n.q, m)
		} else {
			kept = append(kept, m)
		}
	}
	n.parked = kept
}

func (c *Clone) handle(n *Net, f func() error) {
	_ = f() // failures are reported as events and checked by scenarios
	n.Drain(c)
}

// Drain takes a clone's Ready output and routes it.
func (n *Net) Drain(c *Clone) {
	n.followTakeover(c)
	r := c.Replica
	if !r.HasReady() {
		if n.followAcross(c) {
			n.Drain(c)
		}
		return
	}
	rd := r.Ready()
	c.Committed = append(c.Committed, rd.Entries...)
	if rd.Pending != nil {
		c.Pending = rd.Pending
	}
	c.Events = append(c.Events, rd.Events...)
	c.Updates += len(rd.Updates)
	for _, env := range rd.Submit {
		env := env
		s, id := n.submitTo(c, env)
		n.sendFrom(c.Index, id, func() { n.publishFrom(id, s.Submit(env)) })
	}
	if rd.Head != nil {
		n.gossipHead(c, *rd.Head)
	}
	for _, f := range rd.Fetch {
		f := f
		s, id := n.sequencerOf(c)
		n.sendFrom(c.Index, id, func() { n.deliverAll(id, c, s.Fetch(c.Replica.ID(), f.From, f.To)) })
		peer := n.Clones[n.Rand.IntN(len(n.Clones))]
		n.sendFrom(c.Index, peer.Index, func() { n.deliverAll(peer.Index, c, peer.serve(f.From, f.To)) })
	}
	r.Advance()
	if n.followAcross(c) { // after what c committed is persisted
		n.Drain(c)
	}
}

// serve returns what this clone persisted in from..to (any member may serve:
// entries verify end to end), after its latest takeover's entry for a
// fetch of one entry after it (docsync.LogState.TakeoverFor).
func (c *Clone) serve(from, to uint64) []*docsync.Entry {
	var out []*docsync.Entry
	if t := c.Replica.Log().TakeoverFor(from, to); t != nil {
		out = append(out, t)
	}
	for _, e := range c.Committed {
		if e.Head.Seq >= from && e.Head.Seq <= to {
			out = append(out, e)
		}
	}
	return out
}

// gossipHead sends head h of clone c to HeadFanout random clones.
func (n *Net) gossipHead(c *Clone, h docsync.Head) {
	if len(n.Clones) < 2 {
		return
	}
	for k := 0; k < n.Params.HeadFanout; k++ {
		to := n.Clones[n.Rand.IntN(len(n.Clones))]
		if to != c {
			n.sendFrom(c.Index, to.Index, func() { to.handle(n, func() error { return to.Replica.HandleHead(h) }) })
		}
	}
}

// deliverAll sends the entries es from node from to clone c.
func (n *Net) deliverAll(from int, c *Clone, es []*docsync.Entry) {
	for _, e := range es {
		e := e
		n.sendFrom(from, c.Index, func() { c.handle(n, func() error { return c.Replica.HandleEntry(e) }) })
	}
}

// publish fans the first sequencer's deliveries out (publishFrom).
func (n *Net) publish(ds []sequencer.Delivery) { n.publishFrom(-1, ds) }

// publishFrom fans deliveries of the sequencer with node ID from out to
// clones with random delays, reordering and duplicates.
func (n *Net) publishFrom(from int, ds []sequencer.Delivery) {
	for _, d := range ds {
		for _, c := range n.Clones {
			if d.To != nil && !d.To(c.Replica.ID()) {
				continue
			}
			c, e := c, d.Entry
			copies := 1
			if n.Rand.Float64() < n.Params.DupProb {
				copies = 2
			}
			for range copies {
				n.sendFrom(from, c.Index, func() { c.handle(n, func() error { return c.Replica.HandleEntry(e) }) })
			}
		}
	}
}

// Step advances one tick, delivering every message due.
func (n *Net) Step() error {
	n.Now++
	for n.q.Len() > 0 && n.q[0].at <= n.Now {
		m := heap.Pop(&n.q).(*msg)
		if m.to >= 0 && n.held[m.to] {
			n.parked = append(n.parked, m)
			continue
		}
		if n.Cut != nil && n.Cut(m.from, m.to) {
			n.Dropped++
			continue
		}
		m.run()
		n.Delivered++
		if n.Delivered > n.Params.MaxEvents {
			return fmt.Errorf("docsim: more than %d messages: no quiescence", n.Params.MaxEvents)
		}
	}
	return nil
}

// Idle reports whether no message is in flight.
func (n *Net) Idle() bool { return n.q.Len() == 0 }

// Settle runs until no message is in flight.
func (n *Net) Settle() error {
	for !n.Idle() {
		if err := n.Step(); err != nil {
			return err
		}
	}
	return nil
}
