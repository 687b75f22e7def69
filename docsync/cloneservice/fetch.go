package cloneservice

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// fetch asks for entries from..to: from the sequencer, or from a connected
// member clone when fromMember is set (loop only). What is still missing
// after the sequencer answered is asked of a member; a full reply continues
// the catch-up with the next range.
func (s *Service) fetch(d *docState, from, to uint64, fromMember bool) {
	target := d.seqPeer
	if fromMember {
		if p, ok := s.randomMember(d); ok {
			target = p
		}
	}
	s.fetchFrom(d, from, to, target, fromMember)
}

// fetchFrom is fetch from target. A first ask (not fromMember) of a peer
// other than the sequencer (an invitee asks its inviter, which has the
// history up to the invitation) that falls short asks the sequencer next.
func (s *Service) fetchFrom(d *docState, from, to uint64, target peer.ID, fromMember bool) {
	if from > to || d.stopped() != nil {
		return
	}
	to = min(to, from+netproto.MaxHistoryBatch-1)
	d.fetchAt = s.now()
	if d.fetching == 0 || to > d.fetchingTo {
		d.fetchingTo = to
	}
	d.fetching++
	s.stats.fetches.Add(1)
	doc := d.id
	s.goDo(func(ctx context.Context) {
		es, err := s.net.FetchHistory(ctx, target, doc, from, to)
		if err != nil {
			s.log.Debug("fetch history", "doc", doc, "peer", target, "from", from, "to", to, "err", err)
		}
		s.post(func() {
			d.fetching--
			s.onEntries(doc, es)
			d := s.docs[doc]
			if d == nil || d.stopped() != nil {
				return
			}
			s.jumpCompacted(d, from, err, target == d.seqPeer)
			seq := d.r.Log().Seq()
			switch {
			case seq < to && target != d.seqPeer && !fromMember:
				s.fetch(d, seq+1, to, false)
			case seq < to && target == d.seqPeer && !fromMember:
				// Once: with no member connected, the member fetch goes
				// to the sequencer again, and its answer ends here (it
				// used to ask again, once per round trip, forever).
				s.fetch(d, seq+1, to, true)
			case len(es) == netproto.MaxHistoryBatch && seq >= to:
				s.fetch(d, to+1, to+netproto.MaxHistoryBatch, target != d.seqPeer)
			}
		})
	})
}

// catchUp asks the sequencer for everything after our seq (on join and restart).
func (s *Service) catchUp(d *docState) {
	seq := d.r.Log().Seq()
	s.fetch(d, seq+1, seq+netproto.MaxHistoryBatch, false)
}

// randomMember returns a connected member clone other than us.
func (s *Service) randomMember(d *docState) (peer.ID, bool) {
	var ps []peer.ID
	for _, m := range d.r.Log().Membership().Members() {
		if m.ID == s.me {
			continue
		}
		p, err := netproto.PeerOf(m.ID[:])
		if err == nil && s.net.Connected(p) {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return "", false
	}
	return ps[rand.IntN(len(ps))], true
}

// tick runs the document's timers (loop only).
func (s *Service) tick(d *docState, now time.Time) {
	if d.dormant {
		return // nothing to time: what wakes it comes as an event (dormant.go)
	}
	if d.misbehaved() != nil && now.Sub(d.headSent) >= s.params.HeadRepeat {
		// Keep telling members (and late joiners) about the fork, tamper
		// or forged seq.
		cur := d.r.Log().Sequencer()
		if d.proof != nil && bytes.Equal(d.proofSigner(), cur) {
			s.gossipProof(d, now)
		}
		d.headSent = now
		for _, ev := range d.evidence {
			if bytes.Equal(ev.Sequencer, cur) { // not the sequencer the document left
				s.gossipEvidence(d, ev)
			}
		}
	}
	s.checkStall(d, now)
	if d.stopped() != nil {
		s.tickStopped(d, now)
		return
	}
	s.presenceTick(d, now)
	s.tickMove(d, now)
	s.tickHeal(d, now)
	if env := d.r.InFlight(); env != nil && env.Counter > d.r.Log().Counter(s.me) && s.resubmitDue(d, now) {
		d.r.Resubmit()
		s.handleReady(d)
		// The envelope may be committed already with its entry lost on
		// the way: gossip can keep using a connection that died (a peer
		// restarted; QUIC notices only at its idle timeout), and the
		// sequencer drops the resend as a duplicate. Pulling the tail of
		// the log over a fresh stream finds it.
		if _, _, missing := d.r.Missing(); !missing {
			s.catchUp(d)
		}
	}
	s.maybeGossipHead(d, now)
	s.maybeClaimWait(d, now)
	if from, to, ok := d.r.Missing(); !ok {
		d.gapSeen = time.Time{}
	} else if d.gapSeen.IsZero() {
		d.gapSeen = now
	} else if now.Sub(d.gapSeen) < s.params.GapWait {
		// wait: the entries in flight may fill it
	} else if d.fetching > 0 && from <= d.fetchingTo && now.Sub(d.fetchAt) < s.params.StreamTimeout {
		// a fetch in flight asks for it: an invitee's history from its
		// inviter is still coming when the first entries after its
		// invitation arrive (an inviter serving a burst of invitees on
		// one link takes seconds), and asking the sequencer for the same
		// range carried much of the history twice (N=1000 docsync). The
		// fetch's answer, short or failed, asks again itself (fetchFrom).
	} else if s.maybeJump(d, now) {
		// a member's snapshot, not the whole gap (jump.go)
	} else if d.fetchAt.Before(d.gapSeen) {
		s.fetch(d, from, to, false) // first ask: the sequencer, then a member
	} else if now.Sub(d.fetchAt) >= s.params.FetchRetry {
		d.fetchTries++
		s.fetch(d, from, to, d.fetchTries%2 == 0)
	}
	if now.Sub(d.dialAt) >= s.params.DialInterval {
		d.dialAt = now
		s.dialMembers(d)
	}
	s.tickDormant(d, now)
}

// resubmitDue says whether the in-flight envelope is due to be sent again:
// ResubmitAfter after it was sent, doubling per failed registration of a
// genesis (up to maxRegisterBackoff), so a sequencer that refuses the
// document is not asked again every few seconds forever.
func (s *Service) resubmitDue(d *docState, now time.Time) bool {
	wait := s.params.ResubmitAfter
	if d.r.Log().Seq() == 0 && d.registerFails > 0 {
		wait = min(wait<<min(d.registerFails, 16), maxRegisterBackoff)
	}
	return now.Sub(d.submitted) >= wait
}

const maxRegisterBackoff = 10 * time.Minute

// maybeGossipHead publishes our latest committed head on the heads topic:
// a head that moved at most every headInterval, an unchanged one every
// HeadRepeat. A moved head used to go out after HeadRepeat too, whatever
// headInterval said: in a document of more than 40 members (where
// headInterval passes HeadRepeat's 2 s) every member gossiped every 2 s:
// 125 publishes a second in a document of 250, not the HeadGossipers per
// HeadInterval of the design. (Members at one seq publish the same bytes,
// which gossipsub delivers once: netproto.HeadsTopicOpts. So an unchanged
// head's repeats cost little, and a moving one about one message per seq.)
func (s *Service) maybeGossipHead(d *docState, now time.Time) {
	if d.head == nil || d.stopped() != nil || d.dormant {
		return
	}
	wait := s.params.HeadRepeat
	if d.head.Seq != d.headSentAt {
		wait = s.headInterval(d)
	}
	if now.Sub(d.headSent) < wait {
		return
	}
	b, err := d.head.Marshal()
	if err != nil {
		return
	}
	d.headSent, d.headSentAt = now, d.head.Seq
	t := d.headsOut
	s.goDo(func(ctx context.Context) { _ = t.Publish(ctx, b) })
}

// headInterval is the least gap between two gossips of a moving head by
// this member: HeadInterval x members / HeadGossipers, at least
// HeadInterval. Members' timers drift apart, so some member gossips about
// every HeadInterval / HeadGossipers: a fork still shows within about that
// long, and the heads each member verifies stay HeadGossipers per interval
// whatever the number of members.
func (s *Service) headInterval(d *docState) time.Duration {
	n := d.r.Log().Membership().Len()
	return s.params.HeadInterval * time.Duration(max(1, n/s.params.HeadGossipers))
}

// dialMembers keeps connections to up to MemberDials member clones, so
// heads and entries gossip between members, not only through the sequencer.
func (s *Service) dialMembers(d *docState) {
	var toDial []peer.ID
	connected := 0
	for _, m := range d.r.Log().Membership().Members() {
		if m.ID == s.me {
			continue
		}
		p, err := netproto.PeerOf(m.ID[:])
		if err != nil {
			continue
		}
		if s.net.Connected(p) {
			connected++
			s.dialed(p)
		} else {
			toDial = append(toDial, p)
		}
	}
	if !s.net.Connected(d.seqPeer) {
		toDial = append(toDial, d.seqPeer)
	} else {
		s.dialed(d.seqPeer)
	}
	rand.Shuffle(len(toDial), func(i, j int) { toDial[i], toDial[j] = toDial[j], toDial[i] })
	now := s.now()
	for _, p := range toDial {
		if connected >= s.params.MemberDials && p != d.seqPeer {
			continue
		}
		connected++
		if !s.dialDue(p, now) {
			continue
		}
		s.goDo(func(ctx context.Context) {
			ctx = network.WithForceDirectDial(ctx, "c2c: member dial, own backoff") // heal.go
			ai := s.net.PeerInfo(p)
			if len(ai.Addrs) == 0 && s.opts.dir != nil {
				if r, err := s.opts.dir.Resolve(ctx, p); err == nil {
					ai = r
				}
			}
			if len(ai.Addrs) > 0 {
				_ = s.net.Connect(ctx, ai)
			}
		})
	}
}

// handleHistory serves our committed entries to the document's current
// members only: entries carry only ciphertext, but who edits when, and
// how much, is the members' business.
func (s *Service) handleHistory(st network.Stream) {
	err := netproto.ServeHistory(st, func(who peer.ID, doc docsync.DocID, from, to uint64, max int) ([][]byte, error) {
		if !s.historyRate.Allow(who, s.now()) {
			s.refusals.Refuse(who.String(), "history_rate", nil)
			return nil, ErrRateLimited
		}
		m, err := netproto.MemberOf(who)
		if err != nil {
			return nil, err
		}
		member := false
		var compacted error
		var takeover *docsync.Entry
		if err := s.view(doc, func(d *docState) {
			_, member = d.r.Log().Membership().Get(m)
			if member { // not the adopting sequencer: its replies must be contiguous
				takeover = d.r.Log().TakeoverFor(from, to) // heals a split brain (heal.go)
			}
			member = member || d.mayFetchHistory(who)
			if from > 1 || to > 1 { // the genesis entry is kept (an adopting sequencer asks for it)
				compacted = d.snaps.compacted(from)
			}
		}); err != nil && !errors.Is(err, ErrUnknownDoc) {
			return nil, err
		}
		if !member {
			s.refusals.Refuse(who.String(), "history_not_member", nil)
			return nil, ErrNotMember
		}
		if compacted != nil {
			return nil, compacted // the range is behind our snapshot (snapshots.go)
		}
		var out [][]byte
		if takeover != nil {
			b, err := takeover.Marshal()
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		for seq := from; seq <= to && len(out) < max; seq++ {
			b, err := s.ds.Get(context.Background(), entryKey(doc, seq))
			if err != nil {
				break
			}
			out = append(out, b)
		}
		s.stats.served.Add(uint64(len(out)))
		return out, nil
	}, s.params.StreamTimeout)
	if err != nil {
		s.stats.badStreams.Add(1)
	}
}
