package cloneservice

import (
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Healing a split brain (docsync's takeoverserve.go says what it is). A
// member that missed a takeover (a partition cut it off from the admin
// and the new sequencer long enough for its connections to drop) keeps
// committing from the previous sequencer; after the heal the other
// members' heads reach it signed by a key it does not know, and its head
// validator rejects them. Each such head only marks the document; at most
// once per FetchRetry the loop then asks a random member for the entry
// after our head. A member that committed the takeover answers with its
// takeover entry first, which the replica checks and, when it continues
// the chain from an older head than ours, refuses with ErrMoveConflict:
// tickMove then rolls back to follow it.

// The halves must also find each other again. During a cut every dial
// across it fails, and libp2p's swarm backs off from a peer for up to
// 5 min (BackoffMax): after a 3 min cut the halves stayed apart for
// another 3 min (measured on simnet: TestPartitionSplitBrainLongCut
// converged 3 min after the heal; 5.4 s with a 10 s BackoffMax, and 5.4
// to 5.8 s with the dials below). So the member dials bypass the swarm's backoff
// (network.WithForceDirectDial) and keep their own per peer, from
// DialInterval doubling to maxDialBackoff: an unreachable member costs
// one dial per half minute.

// maxDialBackoff caps our own backoff between dials of one member.
const maxDialBackoff = 30 * time.Second

// maxDialBackoffs bounds the peers with a backoff kept (members of open
// documents that are not connected): past it the table starts afresh.
const maxDialBackoffs = 4096

// dialBackoff is when a member may be dialled again, and the wait after.
type dialBackoff struct {
	next time.Time
	wait time.Duration
}

// dialDue reports whether member p may be dialled now and, if so, sets
// when it may be again (loop only).
func (s *Service) dialDue(p peer.ID, now time.Time) bool {
	if s.dials == nil || len(s.dials) >= maxDialBackoffs {
		s.dials = map[peer.ID]*dialBackoff{}
	}
	b := s.dials[p]
	if b == nil {
		b = &dialBackoff{}
		s.dials[p] = b
	}
	if now.Before(b.next) {
		return false
	}
	b.wait = min(max(2*b.wait, s.params.DialInterval), maxDialBackoff)
	b.next = now.Add(b.wait)
	return true
}

// dialed forgets p's backoff once it is connected (loop only).
func (s *Service) dialed(p peer.ID) { delete(s.dials, p) }

// heal is a document's split-brain state.
type heal struct {
	foreign atomic.Bool // set by the head validator: a head no known key signed
	askedAt time.Time   // the last member fetch it caused (loop only)
}

// tickHeal asks a member for our next entry when a head signed by no key
// we know was gossiped (loop only, from tick).
func (s *Service) tickHeal(d *docState, now time.Time) {
	if d.stopped() != nil || now.Sub(d.heal.askedAt) < s.params.FetchRetry || !d.heal.foreign.Swap(false) {
		return
	}
	d.heal.askedAt = now
	seq := d.r.Log().Seq()
	s.fetch(d, seq+1, seq+1, true)
}
