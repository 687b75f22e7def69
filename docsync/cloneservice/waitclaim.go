package cloneservice

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/clone2clone/c2c/docsync"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Wait claims close the third kind of withholding, heads that stop while
// members still submit, for the members that do not submit: a member whose
// envelope has had no entry for ResubmitAfter gossips a signed
// docsync.WaitClaim on the heads topic every HeadRepeat while it waits. A
// member that holds a claim of a current member, for a counter not
// committed yet, and whose own head has not moved for StallAfter since it
// first heard it raises the stalled alarm (StallWaiting). The head moving
// clears every claim: the claimant must claim again and the wait starts
// over. Claims flow only while someone waits, so they add nothing to a
// healthy document's traffic.
//
// A claim is the member's word, not proof. What a lying member can do: on
// a document whose head does not move (nobody edits), keep the alarm
// raised on the idle members, named in the alarm's detail as the claimant,
// for as long as it keeps claiming; a head move clears it and it must wait
// another StallAfter. What it cannot: raise it on a document it is not a
// current member of, for a counter of its own already committed, faster
// than StallAfter on our clock (its timestamps are not believed), for
// another member (claims are signed by the claimant's clone key), or by a
// flood (WaitClaimRate per relaying peer). A stranger can do none of it:
// its claims are rejected by the topic validator and never forwarded.

// waitSeen is a member's latest wait claim as this member timed it.
type waitSeen struct {
	counter uint64    // the envelope the claimant waits for
	seq     uint64    // our log seq when we first heard it: the head it says is stuck
	first   time.Time // when we first heard it at seq (our clock)
	last    time.Time // when we last heard it
}

// waitClaimTTL is how long a claim counts after the last repeat: the
// claimant repeats every HeadRepeat, so two lost repeats are tolerated.
func (s *Service) waitClaimTTL() time.Duration { return 3 * s.params.HeadRepeat }

// maybeClaimWait gossips our wait claim while our in-flight envelope has
// had no entry for ResubmitAfter, at most every HeadRepeat (loop only).
func (s *Service) maybeClaimWait(d *docState, now time.Time) {
	env := d.r.InFlight()
	if env == nil || env.Counter <= d.r.Log().Counter(s.me) || env.Counter != d.stall.inflight ||
		now.Sub(d.stall.sentAt) < s.params.ResubmitAfter || now.Sub(d.stall.claimSent) < s.params.HeadRepeat {
		return
	}
	w := &docsync.WaitClaim{Doc: d.id, Counter: env.Counter, Seq: d.r.Log().Seq(), At: uint64(now.UnixMilli())}
	w.Sign(s.id.Sign)
	b, err := w.Marshal()
	if err != nil {
		return
	}
	d.stall.claimSent = now
	t := d.headsOut
	s.goDo(func(ctx context.Context) { _ = t.Publish(ctx, b) })
}

// validateWaitClaim checks a wait claim gossiped on the heads topic: from
// a peer within its rate, exactly the claim's size, about this document,
// signed by the member it names, who is a current member. Anything else is
// rejected (the sender's score drops) and never forwarded.
func (s *Service) validateWaitClaim(doc docsync.DocID, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	if !s.waitRate.Allow(from, s.now()) {
		s.refusals.Refuse(from.String(), "wait_claim_rate", nil)
		return pubsub.ValidationIgnore
	}
	w, err := docsync.DecodeWaitClaim(m.Data)
	if err == nil && w.Doc != doc {
		err = docsync.ErrWrongDoc
	}
	if err == nil {
		err = w.Verify()
	}
	if err == nil {
		member := false
		if verr := s.view(doc, func(d *docState) { _, member = d.r.Log().Membership().Get(w.Member) }); verr != nil {
			return pubsub.ValidationIgnore // closing, or the document just went
		}
		if !member {
			err = fmt.Errorf("%w: wait claim of %v", ErrNotMember, w.Member)
		}
	}
	return s.verdict("wait claim", doc, from, m, w, err)
}

// onWaitClaim records a verified claim (loop only). Membership is checked
// again: it may have changed since the validator ran.
func (s *Service) onWaitClaim(doc docsync.DocID, w *docsync.WaitClaim) {
	d := s.docs[doc]
	if d == nil || d.stopped() != nil || w.Member == s.me {
		return
	}
	if _, ok := d.r.Log().Membership().Get(w.Member); !ok || w.Counter <= d.r.Log().Counter(w.Member) {
		return // not a member, or that envelope is committed: stale
	}
	now, seq := s.now(), d.r.Log().Seq()
	if d.stall.waits == nil {
		d.stall.waits = map[docsync.MemberID]*waitSeen{}
	}
	if ws := d.stall.waits[w.Member]; ws != nil && ws.counter == w.Counter && ws.seq == seq {
		ws.last = now
		return
	}
	d.stall.waits[w.Member] = &waitSeen{counter: w.Counter, seq: seq, first: now, last: now}
}

// waitStall reports the member claim that has waited longest while our
// head stood still, if it waited StallAfter, and drops claims that no
// longer count: the head moved, the envelope committed, the claimant left
// or stopped claiming (loop only). The map holds current members only.
func (s *Service) waitStall(d *docState, now time.Time) (docsync.MemberID, *waitSeen, bool) {
	log := d.r.Log()
	var ids []docsync.MemberID
	for id, ws := range d.stall.waits {
		_, member := log.Membership().Get(id)
		if !member || ws.seq != log.Seq() || ws.counter <= log.Counter(id) || now.Sub(ws.last) > s.waitClaimTTL() {
			delete(d.stall.waits, id)
			continue
		}
		if now.Sub(ws.first) >= s.params.StallAfter {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return docsync.MemberID{}, nil, false
	}
	// Deterministic: the longest wait, then the lowest ID.
	slices.SortFunc(ids, func(a, b docsync.MemberID) int {
		if c := d.stall.waits[a].first.Compare(d.stall.waits[b].first); c != 0 {
			return c
		}
		return slices.Compare(a[:], b[:])
	})
	return ids[0], d.stall.waits[ids[0]], true
}
