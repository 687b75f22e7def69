package docsim

import (
	"crypto/ed25519"
	"errors"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// AddSequencer makes s, signing with key pub, a sequencer documents can
// move to: clones whose log names pub send to it and fetch from it. Its
// node ID (what messages to it are addressed to) is SequencerID(pub).
func (n *Net) AddSequencer(pub ed25519.PublicKey, s sequencer.Node) {
	if n.others == nil {
		n.others, n.seqIDs = map[string]sequencer.Node{}, map[string]int{}
	}
	n.others[string(pub)] = s
	if _, ok := n.seqIDs[string(pub)]; !ok {
		n.seqIDs[string(pub)] = -2 - len(n.seqIDs)
	}
}

// SequencerID returns the node ID of the sequencer signing with pub: -1
// for the first one, -2, -3, ... for those added by AddSequencer.
func (n *Net) SequencerID(pub ed25519.PublicKey) int {
	if id, ok := n.seqIDs[string(pub)]; ok {
		return id
	}
	return -1
}

// sequencerOf returns the sequencer c's log is on and its node ID.
func (n *Net) sequencerOf(c *Clone) (sequencer.Node, int) {
	key := c.Replica.Log().Sequencer()
	if s, ok := n.others[string(key)]; ok {
		return s, n.SequencerID(key)
	}
	return n.Sequencer, -1
}

// submitTo returns where c sends env (and its node ID): a takeover to the
// sequencer it names, everything else to c's current sequencer.
func (n *Net) submitTo(c *Clone, env *docsync.Envelope) (sequencer.Node, int) {
	if op, ok := docsync.MoveOf(env); ok && op.Takeover {
		if s, ok := n.others[string(op.Sequencer)]; ok {
			return s, n.SequencerID(op.Sequencer)
		}
	}
	return n.sequencerOf(c)
}

// followTakeover rolls c back to follow a takeover it refused because it
// had committed more from the old sequencer (docsync.Replica.Rollback), as
// the clone service does: its entries after the takeover's base are
// dropped from what it persisted.
func (n *Net) followTakeover(c *Clone) {
	mv := c.Replica.MoveConflict()
	if mv == nil {
		return
	}
	base := mv.Head.Seq - 1
	if uint64(len(c.Committed)) < base {
		return
	}
	r, err := c.Replica.Rollback(c.Committed[:base], c.Committed[base:], mv)
	if err != nil {
		c.Events = append(c.Events, docsync.Event{Kind: docsync.EventRejected, Seq: mv.Head.Seq, Err: err})
		return
	}
	c.Committed = c.Committed[:base]
	c.Replica = r
	c.Rollbacks++
}

// followAcross makes c follow a takeover whose base is on a branch c's
// chain left (docsync.Replica.FollowAcross), as the clone service does:
// it asks a member on the new chain for the heads before the takeover,
// a window at a time back from its base until one agrees with c's chain
// (AgreedPrefix finds d), then for the entries d+1..S, and drops its own
// entries after d from what it persisted. A member that is only behind
// (d is its head) fetches as usual, unless a fork halted it.
func (n *Net) followAcross(c *Clone) bool {
	mv := c.Replica.CrossedTakeover()
	if mv == nil || mv == c.crossTried {
		return false
	}
	if h, ok := c.Replica.HeadAt(mv.Head.Seq); ok && h.ChainHash == mv.Head.ChainHash {
		return false // followed already
	}
	var peer *Clone
	for _, p := range n.Clones {
		if h, ok := p.Replica.HeadAt(mv.Head.Seq); ok && p != c && h.ChainHash == mv.Head.ChainHash {
			peer = p
			break
		}
	}
	if peer == nil {
		return false // nobody on the new chain yet: a later delivery tries again
	}
	base, top := mv.Envelope.Parent, c.Replica.Log().Seq()
	hi := base
	var d uint64
	for {
		lo := max(1, hi-min(hi-1, 7))
		var heads []docsync.Head
		for _, e := range peer.serve(lo, hi) {
			if e.Head.Seq >= lo && e.Head.Seq <= hi {
				heads = append(heads, e.Head)
			}
		}
		var err error
		d, err = c.Replica.AgreedPrefix(heads)
		if err == nil {
			break
		}
		if !errors.Is(err, docsync.ErrDiverged) || lo == 1 {
			c.crossTried = mv
			c.Events = append(c.Events, docsync.Event{Kind: docsync.EventRejected, Seq: mv.Head.Seq, Err: err})
			return false
		}
		hi = lo - 1
	}
	if d >= top && c.Replica.Halted() == nil {
		return false // only behind: fetching gets the entries up to the takeover
	}
	c.crossTried = mv
	var bridge []*docsync.Entry
	for _, e := range peer.serve(d+1, base) {
		if e.Head.Seq > d && e.Head.Seq <= base {
			bridge = append(bridge, e)
		}
	}
	r, err := c.Replica.FollowAcross(nil, c.Committed[:d], c.Committed[d:], bridge, mv)
	if err != nil {
		c.Events = append(c.Events, docsync.Event{Kind: docsync.EventRejected, Seq: mv.Head.Seq, Err: err})
		return false
	}
	c.Committed = c.Committed[:d]
	c.Replica = r
	c.Crossings++
	return true
}
