package cloneservice

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/internal/clock"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/clone2clone/c2c/internal/promreg"
	"github.com/ipfs/go-datastore"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// Service is a clone's document service. Build it with New; stop it with Close.
type Service struct {
	h      host.Host
	ps     *pubsub.PubSub
	ds     datastore.Batching
	id     *docsync.Identity
	me     docsync.MemberID
	params Params
	opts   options
	log    *slog.Logger
	stats  counters
	now    func() time.Time // the policies' clock (WithClock)
	net    Net              // how the policies reach peers (WithNet)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	reqs   chan func()

	docs map[docsync.DocID]*docState // owned by the loop
	// dormantDocs counts the dormant ones (dormant.go; loop only).
	dormantDocs int
	dirty       map[*docState]struct{} // owned by the loop: see markDirty
	waiters     []*waiter              // owned by the loop
	// failed holds the stored documents that could not be opened at
	// start, with why (owned by the loop); Forget removes them.
	failed map[docsync.DocID]error

	inviteRate, historyRate *guard.Limiter[peer.ID]
	evidenceRate            *guard.Limiter[peer.ID]          // evidence gossip per sending peer
	waitRate                *guard.Limiter[peer.ID]          // wait claims per sending peer (waitclaim.go)
	presenceRate            *guard.Limiter[docsync.MemberID] // carets per member (presence.go)
	presenceStamp           uint64                           // the last stamp we sent (loop only)
	refusals                *guard.Refusals
	waitLog                 *guard.Limiter[docsync.DocID] // one topic-wait log line per doc per minute
	dials                   map[peer.ID]*dialBackoff      // our own member dial backoff (heal.go; loop only)
}

// waiter is an API call waiting for a condition on a document.
type waiter struct {
	doc  docsync.DocID
	cond func(d *docState) (bool, error)
	done chan error
}

// New starts the service on h with the clone's identity (see
// IdentityFromKeys) and reloads every document kept in ds.
func New(h host.Host, ps *pubsub.PubSub, ds datastore.Batching, id *docsync.Identity, opts ...Option) (*Service, error) {
	o := options{params: DefaultParams(), log: slog.Default(), accept: AcceptMembers,
		now: time.Now, ticker: clock.RealTicker, net: hostNet{h}, sigs: processSigs}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if err := o.params.Validate(); err != nil {
		return nil, err
	}
	if id == nil {
		return nil, fmt.Errorf("cloneservice: nil identity")
	}
	if m, err := netproto.MemberOf(h.ID()); err != nil || m != id.ID() {
		return nil, fmt.Errorf("cloneservice: the identity's signing key is not the host key")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{h: h, ps: ps, ds: ds, id: id, me: id.ID(), params: o.params, opts: o, now: o.now, net: o.net,
		log: o.log.With("service", "docsync"), ctx: ctx, cancel: cancel,
		reqs: make(chan func()), docs: map[docsync.DocID]*docState{}, dirty: map[*docState]struct{}{}, failed: map[docsync.DocID]error{},
		inviteRate:   guard.NewLimiter[peer.ID](o.params.InviteRate, o.params.MaxPeers),
		historyRate:  guard.NewLimiter[peer.ID](o.params.HistoryRate, o.params.MaxPeers),
		evidenceRate: guard.NewLimiter[peer.ID](o.params.EvidenceRate, o.params.MaxPeers),
		waitRate:     guard.NewLimiter[peer.ID](o.params.WaitClaimRate, o.params.MaxPeers),
		presenceRate: guard.NewLimiter[docsync.MemberID](o.params.Presence.Rate, o.params.MaxPeers),
		waitLog:      guard.NewLimiter[docsync.DocID](guard.Rate{PerSecond: 1.0 / 60, Burst: 1}, o.params.MaxDocs)}
	s.refusals = guard.NewRefusals(s.log, "docsync", "request", o.params.RefusalLogInterval, o.now)
	if o.reg != nil {
		if err := promreg.Register(o.reg, s.collectors()...); err != nil {
			cancel()
			return nil, fmt.Errorf("cloneservice: metrics: %w", err)
		}
	}
	if err := s.restoreAll(); err != nil {
		s.closeDocs()
		cancel()
		promreg.Unregister(o.reg, s.collectors()...)
		return nil, err
	}
	h.SetStreamHandler(netproto.HistoryProtocol, s.handleHistory)
	h.SetStreamHandler(netproto.SnapshotProtocol, s.handleSnapshot)
	h.SetStreamHandler(netproto.PushProtocol, s.handlePush)
	h.SetStreamHandler(netproto.InviteProtocol, s.handleInvite)
	s.wg.Add(1)
	go s.loop()
	return s, nil
}

// ID is this clone's MemberID.
func (s *Service) ID() docsync.MemberID { return s.me }

// Stats returns the counters.
func (s *Service) Stats() Stats { return s.stats.snapshot() }

// Close stops the service. Everything acknowledged is already durable;
// Close does not close the datastore.
func (s *Service) Close() error {
	s.h.RemoveStreamHandler(netproto.HistoryProtocol)
	s.h.RemoveStreamHandler(netproto.SnapshotProtocol)
	s.h.RemoveStreamHandler(netproto.PushProtocol)
	s.h.RemoveStreamHandler(netproto.InviteProtocol)
	s.cancel()
	s.wg.Wait()
	s.closeDocs()
	for _, w := range s.waiters {
		w.done <- ErrClosed
	}
	s.waiters = nil
	promreg.Unregister(s.opts.reg, s.collectors()...)
	return nil
}

func (s *Service) collectors() []prometheus.Collector {
	return append(s.stats.collectors(), s.refusals.Collector())
}

// Refusals returns the requests refused so far, by reason.
func (s *Service) Refusals() map[string]uint64 { return s.refusals.Counts() }

func (s *Service) closeDocs() {
	for _, d := range s.docs {
		d.close(s)
	}
	s.docs = map[docsync.DocID]*docState{}
}

// do runs f on the loop and waits for it to finish. What the loop took in
// before is persisted, and reported to observers, before f runs (see
// markDirty): an API call sees only durable state, and an edit built on a
// Base cannot overtake a remote update its observers have not seen.
func (s *Service) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case s.reqs <- func() { s.flushDirty(); f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrClosed
	}
	select {
	case <-done:
		return nil
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// post runs f on the loop without waiting (from helper goroutines).
func (s *Service) post(f func()) {
	select {
	case s.reqs <- f:
	case <-s.ctx.Done():
	}
}

// wait blocks until cond holds for doc (checked after every change).
func (s *Service) wait(ctx context.Context, doc docsync.DocID, cond func(d *docState) (bool, error)) error {
	w := &waiter{doc: doc, cond: cond, done: make(chan error, 1)}
	if err := s.do(ctx, func() {
		s.waiters = append(s.waiters, w)
		s.checkWaiters()
	}); err != nil {
		return err
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		s.post(func() { s.dropWaiter(w) })
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrClosed
	}
}

func (s *Service) dropWaiter(w *waiter) {
	for i, x := range s.waiters {
		if x == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			return
		}
	}
}

func (s *Service) checkWaiters() {
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		d := s.docs[w.doc]
		if d == nil {
			w.done <- ErrUnknownDoc
			continue
		}
		ok, err := w.cond(d)
		if ok || err != nil {
			w.done <- err
			continue
		}
		kept = append(kept, w)
	}
	s.waiters = kept
}

// maxGroup bounds the queued requests the loop runs before it persists
// what they changed (see markDirty).
const maxGroup = 256

func (s *Service) loop() {
	defer s.wg.Done()
	tick, stop := s.opts.ticker(s.params.Tick)
	defer stop()
	for {
		// A clone with no document has nothing to tick for: leaving the
		// ticker out of the select keeps it from waking the loop ten
		// times a second (a provider hosting thousands of idle clones).
		tickC := tick
		if len(s.docs) == s.dormantDocs { // dormant ones too (dormant.go)
			tickC = nil
		}
		select {
		case <-s.ctx.Done():
			return
		case f := <-s.reqs:
			f()
			// Group commit: run what else is queued, then persist each
			// document it changed once.
			for range maxGroup {
				select {
				case f := <-s.reqs:
					f()
					continue
				default:
				}
				break
			}
			s.flushDirty()
			if len(s.waiters) > 0 {
				s.checkWaiters()
			}
		case <-tickC:
			now := s.now()
			for _, d := range s.docs {
				s.tick(d, now)
			}
		}
	}
}

// restoreDoc loads and opens one stored document.
func (s *Service) restoreDoc(doc docsync.DocID) (*docState, *stored, error) {
	st, err := load(s.ctx, s.ds, doc)
	if err != nil {
		return nil, nil, fmt.Errorf("cloneservice: load %v: %w", doc, err)
	}
	var r *docsync.Replica
	if st.snaps.snap != nil {
		r, err = docsync.RestoreFromSnapshot(s.config(doc, st.meta), st.snaps.snap, st.entries, st.pending)
	} else {
		r, err = docsync.Restore(s.config(doc, st.meta), st.entries, st.pending)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cloneservice: restore %v: %w", doc, err)
	}
	d, err := s.openDoc(st.meta, r)
	if err != nil {
		return nil, nil, fmt.Errorf("cloneservice: open %v: %w", doc, err)
	}
	d.snaps = st.snaps
	return d, st, nil
}

// restoreAll reloads every stored document (before the loop starts).
func (s *Service) restoreAll() error {
	docs, err := listDocs(s.ctx, s.ds)
	if err != nil {
		return fmt.Errorf("cloneservice: list documents: %w", err)
	}
	for _, doc := range docs {
		d, st, err := s.restoreDoc(doc)
		if err != nil {
			// One document that cannot be opened must not keep the clone
			// (and every other document) down: it is skipped, reported and
			// left on disk for `c2c doc forget`.
			s.failed[doc] = err
			s.stats.restoreFailures.Add(1)
			s.log.Error("document not restored; it stays on disk until forgotten", "doc", doc, "err", err)
			continue
		}
		d.restoreEvidence(st)
		if h, ok := d.r.HeadAt(d.r.Log().Seq()); ok {
			d.head = &h // gossiped from the first tick, so forks show up after a restart too
		}
		s.log.Info("restored document", "doc", doc, "seq", d.r.Log().Seq(), "halted", d.stopped() != nil)
		s.handleReady(d)
		s.catchUp(d)
	}
	return nil
}

func (s *Service) config(doc docsync.DocID, meta *netproto.Invitation) docsync.Config {
	return docsync.Config{Doc: doc, Sequencer: meta.Sequencer, Identity: s.id, Params: s.params.Replica, Sigs: s.opts.sigs}
}
