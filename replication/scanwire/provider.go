package scanwire

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/clone2clone/c2c/replication/scan"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Params are the provider's tuning numbers.
type Params struct {
	// MaxBlobBytes is the largest blob the provider scans.
	MaxBlobBytes int64
	// Per asking peer: queries per second (and burst), bytes to scan per
	// second (and burst, at least MaxBlobBytes), scans in flight.
	PeerQueriesPerSec float64
	PeerQueryBurst    int
	PeerBytesPerSec   float64
	PeerBytesBurst    int64
	PeerConcurrent    int
	// MaxConcurrent caps the scans in flight over all peers (the engine is
	// CPU-bound: more than the cores only queues).
	MaxConcurrent int
	// MaxPeers is how many peers' budgets are tracked at once.
	MaxPeers int
	// StreamTimeout bounds one stream, the blob's bytes included.
	StreamTimeout time.Duration
	// CacheEntries caps the verdict cache.
	CacheEntries int
}

// DefaultParams are sized for a provider serving a few thousand clones.
func DefaultParams() Params {
	return Params{
		MaxBlobBytes:      256 << 20,
		PeerQueriesPerSec: 200, PeerQueryBurst: 2000,
		PeerBytesPerSec: 64 << 20, PeerBytesBurst: 512 << 20,
		PeerConcurrent: 2,
		MaxConcurrent:  max(2, runtime.GOMAXPROCS(0)),
		MaxPeers:       16384,
		StreamTimeout:  2 * time.Minute,
		CacheEntries:   1 << 20,
	}
}

// Validate reports a setting that cannot work.
func (p Params) Validate() error {
	switch {
	case p.MaxBlobBytes <= 0 || p.PeerBytesBurst < p.MaxBlobBytes:
		return errors.New("scanwire: MaxBlobBytes must be positive and PeerBytesBurst at least it")
	case p.PeerQueriesPerSec <= 0 || p.PeerQueryBurst < 1 || p.PeerBytesPerSec <= 0:
		return errors.New("scanwire: the per-peer rates must be positive")
	case p.PeerConcurrent < 1 || p.MaxConcurrent < 1 || p.MaxPeers < 1 || p.StreamTimeout <= 0 || p.CacheEntries < 1:
		return errors.New("scanwire: PeerConcurrent, MaxConcurrent, MaxPeers, StreamTimeout and CacheEntries must be positive")
	}
	return nil
}

// ProviderOption configures NewProvider.
type ProviderOption func(*Provider)

// WithParams sets the tuning numbers.
func WithParams(p Params) ProviderOption { return func(s *Provider) { s.params = p } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) ProviderOption { return func(s *Provider) { s.log = l } }

// WithClock sets the clock the budgets read.
func WithClock(now func() time.Time) ProviderOption { return func(s *Provider) { s.clock = now } }

// Provider is the provider process's scanner: one engine, one verdict
// cache, the signed manifest, served to every clone that asks.
type Provider struct {
	h      host.Host
	key    crypto.PrivKey
	store  *Store
	params Params
	log    *slog.Logger
	clock  func() time.Time
	cache  *scan.Cache
	bud    *budgets

	mu       sync.RWMutex
	engine   *scan.Engine
	manifest *Manifest
}

// NewProvider loads the database from ds (the built-in one, version 0,
// when nothing was added), and serves SigsProtocol and ScanProtocol on h,
// signing with h's key.
func NewProvider(ctx context.Context, h host.Host, ds datastore.Batching, opts ...ProviderOption) (*Provider, error) {
	p := &Provider{h: h, store: NewStore(ds), params: DefaultParams(), log: slog.Default(), clock: time.Now}
	for _, o := range opts {
		o(p)
	}
	if err := p.params.Validate(); err != nil {
		return nil, err
	}
	if p.key = h.Peerstore().PrivKey(h.ID()); p.key == nil {
		return nil, errors.New("scanwire: the host's private key is not in its peerstore")
	}
	p.cache = scan.NewCache(p.params.CacheEntries)
	p.bud = newBudgets(p.params, p.clock)
	if err := p.Reload(ctx); err != nil {
		return nil, err
	}
	h.SetStreamHandler(SigsProtocol, p.serveSigs)
	h.SetStreamHandler(ScanProtocol, p.serveScan)
	return p, nil
}

// Close stops serving.
func (p *Provider) Close() error {
	p.h.RemoveStreamHandler(SigsProtocol)
	p.h.RemoveStreamHandler(ScanProtocol)
	return nil
}

// Reload reads the database from the store again (after a sigs add) and
// swaps the engine; the cache stays, keyed by version.
func (p *Provider) Reload(ctx context.Context) error {
	m, files, err := p.store.Load(ctx)
	if err != nil {
		return err
	}
	if m == nil {
		m = &Manifest{Version: 0, BodySigs: 1}
		if err := m.Sign(p.key); err != nil {
			return err
		}
	} else if err := m.Verify(p.h.ID()); err != nil {
		return fmt.Errorf("stored manifest: %w (signed by another identity?)", err)
	}
	db, err := Compile(m.Version, files)
	if err != nil {
		return fmt.Errorf("stored signatures: %w", err)
	}
	p.mu.Lock()
	p.engine, p.manifest = scan.NewEngine(db, p.cache), m
	p.mu.Unlock()
	h, b := db.Counts()
	p.log.Info("scanner database", "version", m.Version, "hash_sigs", h, "body_sigs", b, "files", len(files))
	return nil
}

// Manifest returns the current signed manifest.
func (p *Provider) Manifest() *Manifest {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.manifest
}

// Datastore is where the provider keeps its signature database (a Store
// on it, then Reload, is what c2c provider sigs add and a restart do).
func (p *Provider) Datastore() datastore.Batching { return p.store.ds }

// Key is the provider's signing key (its host's identity).
func (p *Provider) Key() crypto.PrivKey { return p.key }

// CacheLen is how many verdicts the shared cache holds.
func (p *Provider) CacheLen() int { return p.cache.Len() }

func (p *Provider) current() (*scan.Engine, uint64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.engine, p.manifest.Version
}

func (p *Provider) serveSigs(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(p.params.StreamTimeout))
	if err := p.bud.query(s.Conn().RemotePeer()); err != nil {
		s.Reset() // over its query budget: nothing sent
		return
	}
	if _, err := bounded.WriteFrame(s, p.Manifest().Marshal()); err != nil {
		s.Reset()
	}
}

func (p *Provider) serveScan(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(p.params.StreamTimeout))
	from := s.Conn().RemotePeer()
	br := bufio.NewReaderSize(s, 4<<10)
	refuse := func(err error) {
		code := byte(codeRefused)
		if errors.Is(err, ErrBusy) {
			code = codeBusy
		}
		_, _ = bounded.WriteFrame(s, refusal(code, err.Error()))
	}
	b, _, err := bounded.ReadFrame(br, maxFrame)
	if err != nil {
		s.Reset()
		return
	}
	q, err := unmarshalQuery(b)
	if err != nil {
		refuse(err)
		return
	}
	if err := p.bud.query(from); err != nil {
		refuse(err)
		return
	}
	engine, version := p.current()
	v, ok := p.cache.Get(q.sum, version)
	if !ok {
		done, err := p.bud.scan(from, q.size)
		if err != nil {
			refuse(err)
			return
		}
		v, err = p.scanSent(s, br, engine, q)
		done()
		if err != nil {
			p.log.Debug("scan refused", "peer", from, "err", err)
			refuse(err)
			return
		}
	}
	sv := &SignedVerdict{SHA256: q.sum, Size: q.size, Version: version, Verdict: v}
	if err := sv.Sign(p.key); err != nil {
		refuse(err)
		return
	}
	_, _ = bounded.WriteFrame(s, append([]byte{tagVerdict}, sv.Marshal()...))
}

// scanSent asks for the blob's bytes, scans them while hashing, and
// caches the verdict only if the bytes are the blob the query named: a
// peer cannot plant a clean verdict for another's content.
func (p *Provider) scanSent(s network.Stream, br *bufio.Reader, engine *scan.Engine, q query) (scan.Verdict, error) {
	if _, err := bounded.WriteFrame(s, []byte{tagSend}); err != nil {
		return scan.Verdict{}, err
	}
	h := sha256.New()
	lr := io.LimitReader(br, int64(q.size))
	v, err := engine.Scan(io.TeeReader(lr, h), int64(q.size))
	if err != nil {
		return scan.Verdict{}, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	// A body match stops the scan early: hash the rest too.
	if _, err := io.Copy(h, lr); err != nil {
		return scan.Verdict{}, err
	}
	if [32]byte(h.Sum(nil)) != q.sum {
		return scan.Verdict{}, fmt.Errorf("%w: the bytes sent do not match the SHA-256 asked about", ErrRefused)
	}
	p.cache.Put(q.sum, engine.DB().Version(), v)
	return v, nil
}

// FetchManifest asks provider for its signed manifest and checks the
// signature.
func FetchManifest(ctx context.Context, h host.Host, provider peer.ID) (*Manifest, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := h.NewStream(ctx, provider, SigsProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	dl, _ := ctx.Deadline()
	_ = s.SetDeadline(dl)
	b, _, err := bounded.ReadFrame(bufio.NewReader(s), MaxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("manifest from %s: %w", provider, err)
	}
	m, err := UnmarshalManifest(b)
	if err != nil {
		return nil, err
	}
	if err := m.Verify(provider); err != nil {
		return nil, err
	}
	return m, nil
}
