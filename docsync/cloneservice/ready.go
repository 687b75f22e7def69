package cloneservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// onEntries feeds entries (from the topic, a fetch, a push or a register
// reply) to the replica (loop only).
func (s *Service) onEntries(doc docsync.DocID, es []*docsync.Entry) {
	d := s.docs[doc]
	if d == nil || d.broken != nil {
		return
	}
	if len(es) > 0 {
		s.wakeDoc(d)
	}
	for _, e := range es {
		if !d.admits(e) {
			continue
		}
		_ = d.r.HandleEntry(e) // failures come back as Ready events
		if d.r.Halted() != nil {
			break
		}
	}
	s.markDirty(d)
}

// onSignedEntry feeds an entry whose sequencer signature was verified (by
// the feed's reader or the entries topic's validator) to the replica
// (loop only); wire, if any, are the bytes it came in, for persist.
func (s *Service) onSignedEntry(doc docsync.DocID, v *docsync.SignedEntry, wire fedBytes) {
	d := s.docs[doc]
	if d == nil || !d.admits(v.Entry()) {
		return
	}
	s.wakeDoc(d)
	if wire.b != nil {
		if d.fedWire == nil {
			d.fedWire = map[*docsync.Entry]fedBytes{}
		}
		d.fedWire[v.Entry()] = wire
	}
	_ = d.r.HandleSignedEntry(v) // failures come back as Ready events
	s.markDirty(d)
}

// onHead feeds a gossiped head to the replica (loop only).
func (s *Service) onHead(doc docsync.DocID, h docsync.Head) {
	d := s.docs[doc]
	if d == nil || d.stopped() != nil {
		return
	}
	_ = d.r.HandleHead(h)
	s.markDirty(d)
}

// markDirty defers handleReady until the loop has run the requests that
// are queued (loop only): entries that arrive together are then written
// with one sync (group commit), not one sync each. Nothing of them is sent,
// notified or gossiped before that sync.
func (s *Service) markDirty(d *docState) {
	if s.dirty == nil {
		s.dirty = map[*docState]struct{}{}
	}
	s.dirty[d] = struct{}{}
}

// flushDirty runs handleReady on every document marked dirty (loop only).
func (s *Service) flushDirty() {
	for d := range s.dirty {
		delete(s.dirty, d)
		if s.docs[d.id] == d {
			s.handleReady(d)
		}
	}
}

// handleReady persists the replica's output (entries, pending, fork proof)
// with one sync, and only then sends, notifies and gossips (raft's rule).
// It returns the storage error that stopped the document, if any.
func (s *Service) handleReady(d *docState) error { return s.handleReadyMeta(d, nil) }

// handleReadyMeta is handleReady that also writes meta records (see
// EditFuncMeta) in the same batch as the Ready.
func (s *Service) handleReadyMeta(d *docState, meta map[string][]byte) error {
	// The feed's bytes of entries not persisted now never are (a
	// duplicate, a refused entry, one held for a gap): Marshal then.
	defer clear(d.fedWire)
	if d.broken != nil {
		return d.broken
	}
	var rd docsync.Ready
	if d.r.HasReady() {
		rd = d.r.Ready()
		d.r.Advance()
	} else if len(meta) == 0 {
		return nil
	}
	s.wakeDoc(d)
	var proof *docsync.ForkProof
	for _, ev := range rd.Events {
		if ev.Kind == docsync.EventFork && ev.Proof != nil && (d.proof == nil || d.misbehaved() == nil) {
			// The first fork, or one of a sequencer the document moved
			// to after recovering from an earlier one.
			proof = ev.Proof
		}
	}
	evs := newEvidence(d, &rd)
	if err := s.persist(d, &rd, proof, evs, meta); err != nil {
		d.broken = fmt.Errorf("%w: %w", ErrStorage, err)
		s.log.Error("document stopped: cannot persist", "doc", d.id, "err", err)
		s.stopObservers(d, d.broken)
		return d.broken
	}
	if proof != nil {
		s.alarm(d, proof)
	}
	for _, ev := range evs {
		s.misbehaved(d, ev)
	}
	for _, e := range rd.Entries {
		d.agreed.record(e.Head) // durable now
	}
	for _, env := range rd.Submit {
		if d.stopped() == nil || isTakeover(env) { // a takeover is how a stopped document recovers
			s.send(d, env)
		}
	}
	s.notify(d, &rd)
	if rd.Head != nil {
		h := *rd.Head
		d.head = &h
		s.maybeGossipHead(d, s.now())
	}
	if len(rd.Fetch) > 0 && d.gapSeen.IsZero() {
		d.gapSeen = s.now() // fetched by the tick if it outlasts GapWait
	}
	if len(rd.Entries) > 0 {
		s.maybeSnapshot(d)
	}
	return d.broken
}

func (s *Service) persist(d *docState, rd *docsync.Ready, proof *docsync.ForkProof, evs []*docsync.Evidence, meta map[string][]byte) error {
	if len(rd.Entries) == 0 && rd.Pending == nil && proof == nil && len(evs) == 0 && len(meta) == 0 {
		return nil
	}
	b, err := s.ds.Batch(s.ctx)
	if err != nil {
		return err
	}
	if err := s.putMeta(b, d.id, meta); err != nil {
		return err
	}
	if err := s.putEvidence(b, d.id, evs); err != nil {
		return err
	}
	for _, e := range rd.Entries {
		eb, err := entryBytes(d, e)
		if err != nil {
			return err
		}
		if err := b.Put(s.ctx, entryKey(d.id, e.Head.Seq), eb); err != nil {
			return err
		}
	}
	if rd.Pending != nil {
		pb, err := rd.Pending.Marshal()
		if err != nil {
			return err
		}
		if err := b.Put(s.ctx, pendingKey(d.id), pb); err != nil {
			return err
		}
	}
	if proof != nil {
		// Kept per sequencer key (evidence/<fork>/<key>), beside the
		// proofs of sequencers the document recovered from.
		if err := s.putEvidence(b, d.id, []*docsync.Evidence{d.forkEvidence(proof)}); err != nil {
			return err
		}
	}
	if err := b.Commit(s.ctx); err != nil {
		return err
	}
	return s.ds.Sync(s.ctx, docKey(d.id))
}

// entryBytes is e encoded: the bytes it came in on the feed if it is
// still the entry they decoded to (its fingerprint then), else Marshal's.
func entryBytes(d *docState, e *docsync.Entry) ([]byte, error) {
	if w, ok := d.fedWire[e]; ok && e.Fingerprint() == w.fp {
		return w.b, nil
	}
	return e.Marshal()
}

// alarm raises a fork alarm: log, metric, event, stop (the proof is on disk).
func (s *Service) alarm(d *docState, p *docsync.ForkProof) {
	d.proof = p
	d.forks = keepFork(d.forks, d.forkEvidence(p))
	s.stats.forks.Add(1)
	s.log.Error("SEQUENCER FORK: the sequencer signed two different heads for one seq; document stopped",
		"doc", d.id, "seq", p.A.Seq, "hash_a", p.A.ChainHash, "hash_b", p.B.ChainHash, "sequencer", d.seqPeer)
	s.emit(d, Event{Kind: EventAlarm, Seq: p.A.Seq, Proof: p, Err: docsync.ErrFork})
	s.stopObservers(d, fmt.Errorf("cloneservice: the sequencer forked the document: %w", docsync.ErrHalted))
	s.gossipProof(d, s.now())
}

// gossipProof publishes both heads of the fork proof on the heads topic:
// every member that holds either branch, or neither, detects the fork from
// them, so members on the other side of a partition learn of it even
// though this clone stopped. The first time it publishes the heads as
// they are; each later time (tick, every HeadRepeat) as a numbered repeat
// (Head.MarshalRepeat): the same bytes again would be dropped as a
// duplicate for minutes, and a member that missed the first (one that had
// just reconnected, in c2c bench paper) would learn of the fork only then.
// Members repeat with the same numbers, so their repeats are one message.
func (s *Service) gossipProof(d *docState, now time.Time) {
	d.headSent = now
	t := d.headsOut
	n := d.proofSent
	d.proofSent++
	for _, h := range []docsync.Head{d.proof.A, d.proof.B} {
		b, err := h.Marshal()
		if n > 0 {
			b, err = h.MarshalRepeat(n)
		}
		if err != nil {
			continue
		}
		s.goDo(func(ctx context.Context) { _ = t.Publish(ctx, b) })
	}
}

// notify turns the replica's output into subscriber events and counters.
func (s *Service) notify(d *docState, rd *docsync.Ready) {
	s.stats.committed.Add(uint64(len(rd.Entries)))
	for _, ev := range rd.Events {
		switch ev.Kind {
		case docsync.EventFork, docsync.EventEvidence:
			// alarm already raised
		case docsync.EventRejected:
			s.stats.rejected.Add(1)
			s.log.Warn("rejected ordered entry", "doc", d.id, "seq", ev.Seq, "err", ev.Err)
			s.emit(d, Event{Kind: EventRejected, Seq: ev.Seq, Err: ev.Err})
		case docsync.EventMembership:
			s.emit(d, Event{Kind: EventMembership, Seq: ev.Seq, Member: ev.Op})
			s.presenceMembership(d)
		case docsync.EventDropped:
			s.emit(d, Event{Kind: EventDropped, Seq: ev.Seq, Err: ev.Err, Member: ev.Op})
		case docsync.EventMoved:
			s.onMoved(d, ev)
		default:
			s.emit(d, Event{Kind: EventNotice, Seq: ev.Seq, Err: ev.Err})
		}
	}
	for _, u := range rd.Updates {
		op := u.Op
		kind := EventUpdate
		if u.Author == s.me {
			kind = EventDropped // a revert of our own abandoned edits
		}
		s.stats.updates.Add(1)
		s.emit(d, Event{Kind: kind, Seq: u.Seq, Author: u.Author, Op: &op})
		s.observe(d, Change{Kind: kind, Op: op, Seq: u.Seq, Author: u.Author}, nil)
	}
	if d.pres.waiting && len(rd.Entries) > 0 {
		s.presenceChanged(d) // carets on the seqs just applied
	}
	if seq := d.r.Log().Seq(); seq != d.lastSeq {
		d.lastSeq = seq
		s.emit(d, Event{Kind: EventCommitted, Seq: seq})
	}
}

// send hands an envelope to the sequencer: the genesis on the register
// stream, anything else on the submit topic.
func (s *Service) send(d *docState, env *docsync.Envelope) {
	b, err := env.Marshal()
	if err != nil {
		return
	}
	d.submitted = s.now()
	d.stall.noteSent(env.Counter, d.submitted)
	s.stats.submitted.Add(1)
	if op, ok := docsync.MoveOf(env); ok && op.Takeover {
		s.sendTakeover(d, env) // to the sequencer it names, which adopts the document
		return
	}
	genesis := env.Kind == docsync.KindMember && env.Parent == 0 && d.r.Log().Seq() == 0
	// A resend goes on a stream: gossipsub names a message by its bytes
	// (netproto.GossipOptions), so the same envelope published again is a
	// duplicate to a sequencer that saw it, for its seen-cache's two
	// minutes, and would be dropped unread.
	resend := env.Counter <= d.topicSent
	if !genesis && !resend {
		d.topicSent = env.Counter
	}
	doc, seqPeer, topic := d.id, d.seqPeer, d.submitOut
	s.goDo(func(ctx context.Context) {
		if genesis {
			reply, err := s.net.Request(ctx, seqPeer, netproto.RegisterProtocol, b, docsync.MaxEntryBytes)
			if err != nil {
				s.post(func() {
					if d := s.docs[doc]; d != nil {
						// Create reports it; the timer retries, backing off
						// (see resubmitDue), and only the first failure is
						// logged above debug.
						d.registerErr = err
						d.registerFails++
						lvl := slog.LevelDebug
						if d.registerFails == 1 {
							lvl = slog.LevelWarn
						}
						s.log.Log(s.ctx, lvl, "register document (retrying with backoff)", "doc", doc,
							"attempt", d.registerFails, "err", netproto.ShortError(err))
					}
				})
				return
			}
			e, err := docsync.DecodeEntry(reply)
			if err != nil {
				s.stats.badStreams.Add(1)
				return
			}
			s.post(func() { s.onEntries(doc, []*docsync.Entry{e}) })
			return
		}
		// The sequencer must be known on the topic, or gossipsub sends to
		// nobody. It can stay unknown: its subscription announcement can be
		// lost (a peer that restarted is still on a dead connection in
		// gossipsub's view until QUIC's idle timeout). So the wait is
		// bounded, and past it the envelope goes to the sequencer directly.
		if resend {
			if _, err := s.net.Request(ctx, seqPeer, netproto.SubmitProtocol, b, 1024); err != nil {
				s.log.Debug("resend envelope", "doc", doc, "err", netproto.ShortError(err))
			}
			return
		}
		if s.awaitTopicPeer(ctx, topic, seqPeer) {
			if err := topic.Publish(ctx, b); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Debug("publish envelope", "doc", doc, "err", err)
			}
			return
		}
		s.stats.topicWaits.Add(1)
		_, err := s.net.Request(ctx, seqPeer, netproto.SubmitProtocol, b, 1024)
		if s.waitLog.Allow(doc, s.now()) {
			s.log.Info("the sequencer is not on the document's submit topic; sent the envelope to it directly",
				"doc", doc, "waited", s.params.TopicWait, "err", netproto.ShortError(err))
		}
	})
}

// awaitTopicPeer waits up to TopicWait for p to show on topic, dialing it
// meanwhile; it reports whether p showed.
func (s *Service) awaitTopicPeer(ctx context.Context, topic Topic, p peer.ID) bool {
	wctx, cancel := context.WithTimeout(ctx, s.params.TopicWait)
	defer cancel()
	for !contains(topic.ListPeers(), p) {
		if !s.net.Connected(p) {
			_ = s.net.Connect(wctx, s.net.PeerInfo(p))
		}
		select {
		case <-wctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return true
}

// goDo runs f on a goroutine bounded by the stream timeout and Close.
func (s *Service) goDo(f func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, s.params.StreamTimeout)
		defer cancel()
		f(ctx)
	}()
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
