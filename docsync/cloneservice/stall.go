package cloneservice

import (
	"errors"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/docsync"
)

// ErrStalled: the sequencer withholds what it owes the document (see
// StallReason); Params.StallAfter passed. It may resume.
var ErrStalled = errors.New("cloneservice: sequencer stalled")

// StallReason says what a stalled sequencer withholds.
type StallReason uint8

const (
	// StallSubmit: no entry for our envelope, submitted (and resent) for
	// StallAfter. Members that still submit while the heads stop see this.
	StallSubmit StallReason = iota + 1
	// StallHistory: entries known to exist (from later entries or signed
	// heads) stayed missing for StallAfter: history fetches go unanswered.
	StallHistory
	// StallWaiting: a current member claims (signed, repeated) that its
	// envelope has no entry, and our head has not moved for StallAfter
	// since we first heard it. How members that do not submit see heads
	// that stop while others submit (waitclaim.go).
	StallWaiting
)

func (r StallReason) String() string {
	switch r {
	case StallSubmit:
		return "no entry for a submitted envelope"
	case StallHistory:
		return "missing entries not served"
	case StallWaiting:
		return "a member's envelope has no entry and the head does not move"
	}
	return "?"
}

// Stall describes a raised sequencer-stalled alarm.
type Stall struct {
	Since  time.Time // when the alarm was raised
	Reason StallReason
	// Detail names what is withheld: the envelope's counter, the seq
	// range, or the claimant member and its counter.
	Detail string
}

// stall is a document's stalled-alarm state (loop only).
type stall struct {
	raised   *Stall
	inflight uint64    // the counter of the in-flight envelope being timed
	sentAt   time.Time // when that envelope was first sent
	// claimSent is when we last gossiped a wait claim for it.
	claimSent time.Time
	// waits holds current members' wait claims (waitclaim.go).
	waits map[docsync.MemberID]*waitSeen
}

// noteSent starts timing an in-flight envelope when it is first sent; a
// resend keeps the first time (loop only).
func (st *stall) noteSent(counter uint64, now time.Time) {
	if counter != st.inflight {
		st.inflight, st.sentAt = counter, now
	}
}

// checkStall raises the stalled alarm when the sequencer has withheld for
// StallAfter, and clears it when it no longer does (loop only, from tick).
func (s *Service) checkStall(d *docState, now time.Time) {
	if d.stopped() != nil {
		if d.stall.raised != nil { // a fork or evidence alarm supersedes it
			d.stall.raised = nil
			s.stats.stalled.Add(-1)
		}
		return
	}
	var reason StallReason
	var detail string
	wait := s.params.StallAfter
	if env := d.r.InFlight(); env != nil && env.Counter > d.r.Log().Counter(s.me) &&
		env.Counter == d.stall.inflight && now.Sub(d.stall.sentAt) >= wait {
		reason, detail = StallSubmit, fmt.Sprintf("envelope counter %d, sent %s ago", env.Counter, now.Sub(d.stall.sentAt).Round(time.Second))
	} else if from, to, ok := d.r.Missing(); ok && !d.gapSeen.IsZero() && now.Sub(d.gapSeen) >= wait {
		reason, detail = StallHistory, fmt.Sprintf("seqs %d..%d, missing for %s", from, to, now.Sub(d.gapSeen).Round(time.Second))
	} else if m, ws, ok := s.waitStall(d, now); ok {
		reason, detail = StallWaiting, fmt.Sprintf("member %v claims envelope counter %d waits; head at seq %d for %s",
			m, ws.counter, ws.seq, now.Sub(ws.first).Round(time.Second))
	}
	switch {
	case reason != 0 && d.stall.raised == nil:
		st := &Stall{Since: now, Reason: reason, Detail: detail}
		d.stall.raised = st
		s.stats.stalls.Add(1)
		s.stats.stalled.Add(1)
		s.log.Error("SEQUENCER STALLED: it withholds what the document needs", "doc", d.id,
			"reason", reason.String(), "detail", detail, "after", wait, "sequencer", d.seqPeer)
		s.emit(d, Event{Kind: EventStalled, Stall: st, Err: fmt.Errorf("%w: %v (%s)", ErrStalled, reason, detail)})
		s.alertObservers(d, Change{Kind: EventStalled, Stall: st})
	case reason == 0 && d.stall.raised != nil:
		was := d.stall.raised
		d.stall.raised = nil
		s.stats.stalled.Add(-1)
		s.log.Info("sequencer resumed", "doc", d.id, "stalled_for", now.Sub(was.Since).Round(time.Millisecond))
		s.emit(d, Event{Kind: EventResumed, Stall: was})
		s.alertObservers(d, Change{Kind: EventResumed, Stall: was})
	}
}

// alertObservers tells every attached observer of an alarm that is no text
// change (Kind EventStalled or EventResumed, Stall set, Op empty); the
// version does not move (loop only).
func (s *Service) alertObservers(d *docState, c Change) {
	c.Version = d.version()
	for _, a := range d.observers {
		if !a.gone.Load() {
			a.fn(c)
		}
	}
}
