package cloneservice

import (
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
)

// A document nobody edits still cost each member, before dormancy: a
// gossipsub mesh on each of the three topics it subscribes to (entries,
// heads, presence), kept by the heartbeat and by connections to up to
// MemberDials members; its head gossiped every HeadRepeat; and the loop's
// tick ten times a second. On a provider hosting thousands of clones, a
// document that a hundred of them share and nobody touches was most of
// their idle CPU (docs/scale.md).
//
// So a document whose member has had nothing to do for
// Params.DormantAfter goes dormant at that member: the member cancels its
// topic subscriptions (gossipsub leaves the meshes and tells its peers),
// stops gossiping its head and dialling members, and keeps only the
// sequencer's feed, the one stream every new entry comes on. The topic
// handles and their validators stay, so anything it publishes meanwhile
// still goes out (gossipsub's fanout). It wakes, subscribing again, on:
//   - an entry, from the feed or a fetch (onSignedEntry, onEntries);
//   - anything to send or persist of its own: an edit, an invitation, a
//     removal (handleReadyMeta);
//   - an attached observer (Attach), one no longer idle (SetIdle), and a
//     move (Move);
//   - a feed that failed: the topics are its repair path (follow).
//
// Nothing to do means: not stopped, no envelope in flight, no gap, no
// fetch, jump, move, recovery or crossing under way, no stall alarm or
// member's wait claim, no attached observer that is not idle (a device
// link with no session open: Attachment.SetIdle) and none of our own carets,
// a feed open, and the log's seq unchanged for DormantAfter.
//
// What a dormant member gives up is hearing the topics: a member's wait
// claim (waitclaim.go) and a foreign head (heal.go) reach only awake
// members. A fork still shows: the forking sequencer must feed the
// dormant member the other branch's entry, which wakes it, and its head
// goes out again with the others'.

// quiet says whether d has nothing under way that needs the topics
// (loop only): the conditions above, the seq aside.
func (s *Service) quiet(d *docState) bool {
	if d.stopped() != nil || !d.fed || d.r.InFlight() != nil || d.fetching > 0 || d.jumping ||
		d.mv.handover != 0 || d.mv.adoptBusy || d.rec.busy || d.rec.crossing ||
		d.stall.raised != nil || len(d.stall.waits) > 0 || len(d.pres.own) > 0 {
		return false
	}
	if _, _, missing := d.r.Missing(); missing {
		return false
	}
	for _, a := range d.observers {
		if !a.gone.Load() && !a.idle.Load() {
			return false
		}
	}
	return true
}

// tickDormant puts d to sleep once it has been quiet, at one seq, for
// DormantAfter (loop only, from tick).
func (s *Service) tickDormant(d *docState, now time.Time) {
	seq := d.r.Log().Seq()
	if d.quietSince.IsZero() || seq != d.quietSeq || !s.quiet(d) {
		d.quietSince, d.quietSeq = now, seq
		return
	}
	if s.params.DormantAfter > 0 && now.Sub(d.quietSince) >= s.params.DormantAfter {
		s.sleepDoc(d)
	}
}

// sleepDoc cancels d's topic subscriptions (loop only). Their readers
// end on the cancel.
func (s *Service) sleepDoc(d *docState) {
	if d.dormant {
		return
	}
	for _, sub := range []**pubsub.Subscription{&d.entriesSub, &d.headsSub, &d.pres.sub} {
		if *sub != nil {
			(*sub).Cancel()
			*sub = nil
		}
	}
	d.dormant = true
	s.dormantDocs++
	s.stats.dormant.Add(1)
	s.log.Debug("document dormant", "doc", d.id, "seq", d.quietSeq)
}

// wakeDoc subscribes d to its topics again, if it is dormant (loop only).
func (s *Service) wakeDoc(d *docState) {
	if !d.dormant {
		return
	}
	s.undorm(d)
	d.quietSince, d.dialAt = s.now(), time.Time{} // the next tick dials members
	if d.entries == nil {
		return // opened without the network (the policies' tests)
	}
	var err error
	if d.entriesSub, err = d.entries.Subscribe(pubsub.WithBufferSize(subBuffer)); err == nil {
		if d.headsSub, err = d.heads.Subscribe(pubsub.WithBufferSize(subBuffer)); err == nil {
			d.pres.sub, err = d.pres.topic.Subscribe(pubsub.WithBufferSize(subBuffer))
		}
	}
	for _, sub := range []*pubsub.Subscription{d.entriesSub, d.headsSub, d.pres.sub} {
		if sub != nil {
			s.wg.Add(1)
			go s.readTopic(d.ctx, d.id, sub)
		}
	}
	if err != nil { // the router is closing: the feed still brings entries
		s.log.Warn("document cannot subscribe to its topics again", "doc", d.id, "err", err)
	}
	s.log.Debug("document awake", "doc", d.id)
}

// undorm clears d's dormant mark and its count (loop only).
func (s *Service) undorm(d *docState) {
	if d.dormant {
		d.dormant = false
		s.dormantDocs--
		s.stats.dormant.Add(-1)
	}
}
