package cloneservice

import (
	"sync/atomic"
	"time"
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
