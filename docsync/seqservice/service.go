package seqservice

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/clone2clone/c2c/internal/clock"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/clone2clone/c2c/internal/promreg"
	"github.com/ipfs/go-datastore"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// Service is a running sequencer. Build it with New, stop it with Close.
type Service struct {
	h      host.Host
	ps     *pubsub.PubSub
	ds     datastore.Batching
	key    ed25519.PrivateKey
	pub    ed25519.PublicKey
	params Params
	opts   options
	log    *slog.Logger
	stats  counters

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	reqs   chan func()     // run on the loop
	envs   chan *submitted // validated envelopes for the loop
	outbox chan outgoing   // durable entries for the publisher
	heads  chan outgoing   // heads for the publisher, sent after any entry

	// docs and docsBy are owned by the loop; members is read by validators.
	docs    map[docsync.DocID]*docState
	docsBy  map[docsync.MemberID]int // documents registered per creator
	members sync.Map                 // docsync.DocID -> *memberSet
	// compacted is read by the history handler: docsync.DocID -> compactPoint (compact.go).
	compacted sync.Map

	adopting                  sync.Map // docsync.DocID -> chan struct{} closed when its adoption ends (adopt.go)
	registerRate, historyRate *guard.Limiter[peer.ID]
	envRate, byteRate         *guard.Limiter[docsync.MemberID]
	refusals                  *guard.Refusals
}

type submitted struct {
	doc docsync.DocID
	env *docsync.Envelope
}

// New starts the sequencer on h: it reloads every document persisted in ds,
// joins their topics and serves the register and history protocols. key is
// the host's identity key (its Ed25519 key signs the entries, so clones know
// the sequencer key from its peer ID).
func New(h host.Host, ps *pubsub.PubSub, ds datastore.Batching, key crypto.PrivKey, opts ...Option) (*Service, error) {
	o := options{params: DefaultParams(), log: slog.Default(), now: time.Now, ticker: clock.RealTicker,
		factory: func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
			return sequencer.NewHonest(doc, key)
		}}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if err := o.params.Validate(); err != nil {
		return nil, err
	}
	sk, err := netproto.SigningKey(key)
	if err != nil {
		return nil, err
	}
	if id, err := peer.IDFromPrivateKey(key); err != nil || id != h.ID() {
		return nil, ErrKeyMismatch
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{h: h, ps: ps, ds: ds, key: sk, pub: sk.Public().(ed25519.PublicKey),
		params: o.params, opts: o, log: o.log.With("service", "sequencer"),
		ctx: ctx, cancel: cancel, reqs: make(chan func()), envs: make(chan *submitted, o.params.QueueSize),
		outbox: make(chan outgoing, o.params.QueueSize), heads: make(chan outgoing, o.params.QueueSize),
		docs: map[docsync.DocID]*docState{}, docsBy: map[docsync.MemberID]int{},
		registerRate: guard.NewLimiter[peer.ID](o.params.RegisterRate, o.params.MaxPeers),
		historyRate:  guard.NewLimiter[peer.ID](o.params.HistoryRate, o.params.MaxPeers),
		envRate:      guard.NewLimiter[docsync.MemberID](o.params.EnvelopeRate, o.params.MaxPeers),
		byteRate:     guard.NewLimiter[docsync.MemberID](o.params.ByteRate, o.params.MaxPeers)}
	s.refusals = guard.NewRefusals(s.log, "sequencer", "request", o.params.RefusalLogInterval, o.now)
	if o.reg != nil {
		if err := promreg.Register(o.reg, s.collectors()...); err != nil {
			cancel()
			return nil, fmt.Errorf("seqservice: metrics: %w", err)
		}
	}
	if err := s.restore(); err != nil {
		s.closeDocs()
		cancel()
		promreg.Unregister(o.reg, s.collectors()...)
		return nil, err
	}
	h.SetStreamHandler(netproto.RegisterProtocol, s.handleRegister)
	h.SetStreamHandler(netproto.HistoryProtocol, s.handleHistory)
	h.SetStreamHandler(netproto.SubmitProtocol, s.handleSubmit)
	h.SetStreamHandler(netproto.AdoptProtocol, s.handleAdopt)
	h.SetStreamHandler(netproto.FeedProtocol, s.handleFeed)
	s.wg.Add(2)
	go s.loop()
	go s.publisher()
	return s, nil
}

// PublicKey is the key that signs this sequencer's entries.
func (s *Service) PublicKey() ed25519.PublicKey { return s.pub }

// Stats returns the counters.
func (s *Service) Stats() Stats { return s.stats.snapshot() }

// do runs f on the loop and waits for it.
func (s *Service) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case s.reqs <- func() { f(); close(done) }:
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

// Docs returns the registered documents.
func (s *Service) Docs() []docsync.DocID {
	var out []docsync.DocID
	_ = s.do(context.Background(), func() {
		for id := range s.docs {
			out = append(out, id)
		}
	})
	return out
}

// Head returns the signed head of doc that clone who is shown (the same
// for everyone, unless a plugged sequencer equivocates).
func (s *Service) Head(doc docsync.DocID, who docsync.MemberID) (docsync.Head, error) {
	var h docsync.Head
	err := ErrUnknownDoc
	if e := s.do(context.Background(), func() {
		if d, ok := s.docs[doc]; ok {
			h, _ = d.seq.Head(who)
			err = nil
		}
	}); e != nil {
		return h, e
	}
	return h, err
}

// Close stops the loop, leaves the topics and removes the stream handlers.
// Everything ordered is already durable; Close does not close ds.
func (s *Service) Close() error {
	s.h.RemoveStreamHandler(netproto.RegisterProtocol)
	s.h.RemoveStreamHandler(netproto.HistoryProtocol)
	s.h.RemoveStreamHandler(netproto.SubmitProtocol)
	s.h.RemoveStreamHandler(netproto.AdoptProtocol)
	s.h.RemoveStreamHandler(netproto.FeedProtocol)
	s.cancel()
	s.wg.Wait()
	s.closeDocs()
	promreg.Unregister(s.opts.reg, s.collectors()...)
	return nil
}

func (s *Service) collectors() []prometheus.Collector {
	return append(s.stats.collectors(), s.refusals.Collector())
}

// Refusals returns the requests and submissions refused so far, by reason.
func (s *Service) Refusals() map[string]uint64 { return s.refusals.Counts() }

func (s *Service) loop() {
	defer s.wg.Done()
	tick, stop := s.opts.ticker(s.params.HeadInterval)
	defer stop()
	batch := make([]*submitted, 0, s.params.MaxBatch)
	for {
		select {
		case <-s.ctx.Done():
			return
		case f := <-s.reqs:
			f()
		case first := <-s.envs:
			batch = append(batch[:0], first)
		drain:
			for len(batch) < s.params.MaxBatch {
				select {
				case e := <-s.envs:
					batch = append(batch, e)
				default:
					break drain
				}
			}
			s.orderBatch(batch)
		case <-tick:
			for _, d := range s.docs {
				d.maybePublishHead(s)
			}
		}
	}
}

func (s *Service) closeDocs() {
	for _, d := range s.docs {
		d.close(s)
	}
	s.docs = map[docsync.DocID]*docState{}
}
