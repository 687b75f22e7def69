package cloneservice

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/presence"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// docState is one tracked document; only the loop touches it.
type docState struct {
	id      docsync.DocID
	meta    *netproto.Invitation
	seqPeer peer.ID
	r       *docsync.Replica
	proof   *docsync.ForkProof // set once a fork was found: the document stopped
	broken  error              // set when storage failed: the document stopped
	// evidence is the tamper and forged-seq evidence kept (one per kind):
	// once there is any, the document stopped.
	evidence []*docsync.Evidence
	// forks keeps every fork proof found, one per sequencer key that
	// signed it (evidence.go): a document that recovered from one
	// sequencer's fork and was forked again by the next keeps both.
	forks   []*docsync.Evidence
	stall   stall     // the sequencer-stalled alarm (stall.go)
	mv      moveState // moves to another sequencer (move.go)
	rec     recState  // recovery from a misbehaving sequencer (recover.go)
	pres    docPresence
	snaps   snapState // the kept snapshot and compaction point (snapshots.go)
	jumping bool      // a member's snapshot is being fetched to jump a long gap (jump.go)
	jumpAt  time.Time
	// fedWire holds, for entries the feed delivered since the last
	// persist, the bytes they came in (feed.go): persist stores those
	// instead of encoding each entry again. Cleared at every persist.
	fedWire map[*docsync.Entry]fedBytes

	submit, entries, heads *pubsub.Topic
	submitOut, headsOut    Topic // what the policies publish on: submit and heads
	entriesSub, headsSub   *pubsub.Subscription
	ctx                    context.Context // the document's, for its readers
	cancel                 context.CancelFunc

	// dormant: nobody edited for DormantAfter, so the topic subscriptions
	// are cancelled (dormant.go); fed: the sequencer's feed is open.
	dormant, fed bool
	quietSince   time.Time // since when quiet held at quietSeq
	quietSeq     uint64

	subs      map[int]*subscriber
	nextID    int
	observers []*attachment // see Attach
	changes   uint64        // text changes since opened (Version.Changes)

	submitted  time.Time     // when our in-flight envelope was last sent
	topicSent  uint64        // the counter of our last envelope published on the submit topic
	head       *docsync.Head // latest committed head, to gossip
	headSent   time.Time
	headSentAt uint64
	proofSent  uint64       // repeats of the fork proof gossiped (MarshalRepeat)
	heal       heal         // split-brain healing (heal.go)
	agreed     *agreedHeads // latest committed signed heads, for validateHead (agreed.go)
	fetchAt    time.Time    // when the last fetch started
	fetching   int          // history fetches in flight
	fetchingTo uint64       // the highest seq asked for since none was in flight (an upper bound)
	gapSeen    time.Time    // when the current gap was first seen (zero: none)
	fetchTries int
	dialAt     time.Time
	lastSeq    uint64 // last seq reported to subscribers
	// registerErr is the sequencer's last answer to our genesis, if it
	// failed, and registerFails how many times in a row it did.
	registerErr   error
	registerFails int
}

// stopped reports why the document takes no more input, if it does not.
func (d *docState) stopped() error {
	if err := d.misbehaved(); err != nil {
		return err // until the document moves away from that sequencer (recover.go)
	}
	return d.broken
}

// openDoc joins the topics of a document and registers it (loop only, or
// before the loop starts).
func (s *Service) openDoc(meta *netproto.Invitation, r *docsync.Replica) (*docState, error) {
	if len(s.docs) >= s.params.MaxDocs {
		return nil, ErrTooManyDocs
	}
	seqPeer, err := netproto.PeerOf(meta.Sequencer)
	if err != nil {
		return nil, err
	}
	d := &docState{id: meta.Doc, meta: meta, seqPeer: seqPeer, r: r, subs: map[int]*subscriber{}}
	d.agreed = &agreedHeads{}
	d.agreed.resetTo(r)
	if len(meta.Addrs) > 0 {
		s.h.Peerstore().AddAddrs(seqPeer, meta.Addrs, time.Hour)
	}
	s.followSequencer(d) // the log may have moved to another sequencer
	et, ht := netproto.EntriesTopic(d.id), netproto.HeadsTopic(d.id)
	if err := s.ps.RegisterTopicValidator(et, s.validateEntry(d.id, &d.mv.keys)); err != nil {
		return nil, fmt.Errorf("cloneservice: validator: %w", err)
	}
	if err := s.ps.RegisterTopicValidator(ht, s.validateHead(d.id, &d.mv.keys, &d.heal.foreign, d.agreed)); err != nil {
		_ = s.ps.UnregisterTopicValidator(et)
		return nil, fmt.Errorf("cloneservice: validator: %w", err)
	}
	if d.submit, err = s.ps.Join(netproto.SubmitTopic(d.id)); err == nil {
		if d.entries, err = s.ps.Join(et); err == nil {
			if d.heads, err = s.ps.Join(ht, netproto.HeadsTopicOpts()...); err == nil {
				if d.entriesSub, err = d.entries.Subscribe(pubsub.WithBufferSize(subBuffer)); err == nil {
					d.headsSub, err = d.heads.Subscribe(pubsub.WithBufferSize(subBuffer))
				}
			}
		}
	}
	if err == nil {
		err = s.joinPresence(d)
	}
	if err != nil {
		d.close(s)
		return nil, fmt.Errorf("cloneservice: join topics: %w", err)
	}
	d.submitOut, d.headsOut = d.submit, d.heads
	for _, t := range []*pubsub.Topic{d.entries, d.heads} {
		if err := netproto.ScoreTopic(t); err != nil {
			s.log.Debug("no gossipsub peer scoring", "err", err)
		}
	}
	ctx, cancel := context.WithCancel(s.ctx)
	d.ctx, d.cancel = ctx, cancel
	s.wg.Add(4)
	go s.readTopic(ctx, d.id, d.entriesSub)
	go s.readTopic(ctx, d.id, d.headsSub)
	go s.readTopic(ctx, d.id, d.pres.sub)
	go s.follow(ctx, d.id, seqPeer, meta.Sequencer)
	s.docs[d.id] = d
	return d, nil
}

func (d *docState) close(s *Service) {
	if d.cancel != nil {
		d.cancel()
	}
	s.undorm(d)
	if d.stall.raised != nil {
		d.stall.raised = nil
		s.stats.stalled.Add(-1) // the gauge counts open documents only
	}
	for _, sub := range []*pubsub.Subscription{d.entriesSub, d.headsSub} {
		if sub != nil {
			sub.Cancel()
		}
	}
	for _, t := range []*pubsub.Topic{d.submit, d.entries, d.heads} {
		if t != nil {
			_ = t.Close()
		}
	}
	_ = s.ps.UnregisterTopicValidator(netproto.EntriesTopic(d.id))
	_ = s.ps.UnregisterTopicValidator(netproto.HeadsTopic(d.id))
	s.leavePresence(d)
	s.stopObservers(d, ErrDocClosed)
	for id, sub := range d.subs {
		close(sub.ch)
		delete(d.subs, id)
	}
}

// readTopic forwards validated entries and heads to the loop.
func (s *Service) readTopic(ctx context.Context, doc docsync.DocID, sub *pubsub.Subscription) {
	defer s.wg.Done()
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == s.h.ID() {
			continue // our own head gossip
		}
		switch v := m.ValidatorData.(type) {
		case *docsync.SignedEntry:
			s.post(func() { s.onSignedEntry(doc, v, fedBytes{}) })
		case docsync.Head:
			s.post(func() { s.onHead(doc, v) })
		case *docsync.Evidence:
			s.post(func() { s.onEvidence(doc, v) })
		case *docsync.WaitClaim:
			s.post(func() { s.onWaitClaim(doc, v) })
		case *presence.Update:
			s.post(func() { s.onPresence(doc, v) })
		}
	}
}

// validateEntry checks entries-topic messages: well formed, this document,
// signed by the sequencer (whoever relayed it: messages carry no
// publisher, see netproto.GossipOptions). Anything else is rejected.
func (s *Service) validateEntry(doc docsync.DocID, keys *atomic.Pointer[seqKeys]) pubsub.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		e, err := docsync.DecodeEntry(m.Data)
		if err == nil && (e.Head.Doc != doc || e.Envelope.Doc != doc) {
			err = docsync.ErrWrongDoc
		}
		var v *docsync.SignedEntry
		if err == nil {
			k := keys.Load()
			if v, err = docsync.VerifyEntrySignatureIn(s.opts.sigs, e, k.current); err != nil { // kept for the loop: verified once
				return s.validateMovedEntry(doc, k, from, m, e, err)
			}
		}
		return s.verdict("entry message", doc, from, m, v, err)
	}
}

// validateHead checks heads-topic messages: well formed, this document,
// signed by the sequencer. Evidence against the sequencer (validateEvidence)
// and members' wait claims (validateWaitClaim) share the topic. A peer's
// head that agrees with our committed log (the same signed head) is
// ignored, neither relayed nor handed to the loop (agreedHeads says why);
// our own are accepted, since gossipsub publishes only what its validators
// accept.
func (s *Service) validateHead(doc docsync.DocID, keys *atomic.Pointer[seqKeys], foreign *atomic.Bool, agreed *agreedHeads) pubsub.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		k := keys.Load()
		if docsync.IsEvidence(m.Data) {
			return s.validateEvidence(doc, k.current, from, m)
		}
		if docsync.IsWaitClaim(m.Data) {
			return s.validateWaitClaim(doc, from, m)
		}
		h, err := docsync.DecodeHead(m.Data)
		if err == nil && h.Doc != doc {
			err = docsync.ErrWrongDoc
		}
		// Our own publish must be accepted to go out. (A peer's copy of
		// the same bytes, ignored here, marks them seen; go-libp2p-pubsub
		// v0.17 still validates a local publish of a message it saw but
		// never delivered.)
		if err == nil && from != s.h.ID() && agreed.agrees(h) {
			s.stats.headsAgreed.Add(1)
			return pubsub.ValidationIgnore
		}
		if err == nil {
			if err = h.VerifyIn(s.opts.sigs, k.current); err != nil && signedByOld(k, h) {
				return pubsub.ValidationIgnore // from a sequencer the document left
			}
			if err != nil {
				foreign.Store(true) // perhaps after a takeover we missed (heal.go)
			}
		}
		return s.verdict("head message", doc, from, m, h, err)
	}
}

// verdict ends a topic validator: what failed (err) is counted, logged at
// debug and rejected (the sender's score drops; it is never forwarded);
// what passed is accepted with v for the loop.
func (s *Service) verdict(what string, doc docsync.DocID, from peer.ID, m *pubsub.Message, v any, err error) pubsub.ValidationResult {
	if err != nil {
		s.stats.invalidTopic.Add(1)
		s.log.Debug("rejected "+what, "doc", doc, "from", from, "err", netproto.ShortError(err))
		return pubsub.ValidationReject
	}
	m.ValidatorData = v
	return pubsub.ValidationAccept
}

// subBuffer is the gossipsub subscription buffer per topic: pubsub drops
// messages for a subscriber that falls this far behind (gaps are then
// fetched, but a burst should not cause them).
const subBuffer = 1024
