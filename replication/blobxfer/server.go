package blobxfer

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Authorizer decides whether the clone that cert names (verified, and the
// stream's peer) may pull ref.
type Authorizer func(ctx context.Context, cert *dht.OwnerCert, ref boxostore.Ref) bool

// Params are the server's tuning numbers.
type Params struct {
	IdleTimeout time.Duration // bounds every wait for a peer's next frame
	PeerRate    guard.Rate    // streams one peer may open, checked before the hello is read
}

// DefaultParams returns 30 s idle reads and 4 streams a second per peer (burst 64).
func DefaultParams() Params {
	return Params{IdleTimeout: IdleTimeout, PeerRate: guard.Rate{PerSecond: 4, Burst: 64}}
}

// Validate reports a field out of range.
func (p Params) Validate() error {
	if p.IdleTimeout <= 0 || p.PeerRate.Burst < 1 || p.PeerRate.PerSecond <= 0 {
		return fmt.Errorf("blobxfer: invalid params %+v", p)
	}
	return nil
}

// ServerStats count what the server did.
type ServerStats struct {
	Served    uint64 // pulls completed (the puller's done frame said OK)
	Accepted  uint64 // uploads pulled and verified
	Refused   uint64 // streams refused before any block moved
	Failed    uint64 // transfers that ended in an error after the hello
	BytesOut  int64  // block bytes served
	BytesIn   int64  // block bytes accepted
	BlocksIn  int    // blocks accepted
	BlocksOut int    // blocks served
}

// Option configures New.
type Option func(*Server)

// WithParams sets the tuning numbers.
func WithParams(p Params) Option { return func(s *Server) { s.params = p } }

// WithAuthorizer sets who, among other clones, may pull what (nobody by default).
func WithAuthorizer(a Authorizer) Option { return func(s *Server) { s.auth = a } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithClock sets the clock of certificate checks and rate limits.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.clock = now } }

// Server is a clone's side of the protocol.
type Server struct {
	h      host.Host
	blobs  *boxostore.Store
	cert   *dht.OwnerCert
	params Params
	auth   Authorizer
	log    *slog.Logger
	clock  func() time.Time
	rate   *guard.Limiter[peer.ID]

	mu    sync.Mutex
	stats ServerStats
}

// New serves Protocol on h, the clone that cert names, from and into blobs.
func New(h host.Host, blobs *boxostore.Store, cert *dht.OwnerCert, opts ...Option) (*Server, error) {
	s := &Server{h: h, blobs: blobs, cert: cert, params: DefaultParams(), log: slog.Default(), clock: time.Now}
	for _, o := range opts {
		o(s)
	}
	if err := s.params.Validate(); err != nil {
		return nil, err
	}
	if cert == nil || cert.Clone != h.ID() {
		return nil, fmt.Errorf("%w: the owner certificate does not name this clone", ErrRefused)
	}
	s.rate = newRate(s.params)
	h.SetStreamHandler(Protocol, s.handle)
	return s, nil
}

func newRate(p Params) *guard.Limiter[peer.ID] { return guard.NewLimiter[peer.ID](p.PeerRate, 4096) }

// Close stops serving.
func (s *Server) Close() error {
	s.h.RemoveStreamHandler(Protocol)
	return nil
}

// Stats returns the counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Server) count(f func(*ServerStats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

func (s *Server) handle(st network.Stream) {
	defer st.Close()
	s.serve(st.Conn().RemotePeer(), &conn{r: bufio.NewReader(st), w: st,
		refresh:      func() { _ = st.SetReadDeadline(s.clock().Add(s.params.IdleTimeout)) },
		refreshWrite: func() { _ = st.SetWriteDeadline(s.clock().Add(s.params.IdleTimeout)) }})
}

// serve runs one stream from remote: the hello, the checks, the transfer.
func (s *Server) serve(remote peer.ID, c *conn) {
	refuse := func(err error) {
		s.count(func(x *ServerStats) { x.Refused++ })
		s.log.Info("blobxfer: refused", "peer", remote, "err", err)
		_ = c.end(err)
	}
	if !s.rate.Allow(remote, s.clock()) {
		refuse(fmt.Errorf("%w: streams from %s over their rate", ErrUnavailable, remote))
		return
	}
	hello, err := c.read(KindHello)
	if err == nil && hello.Kind != KindHello {
		err = fmt.Errorf("%w: no hello", ErrMalformed)
	}
	if err != nil {
		refuse(err)
		return
	}
	if err := s.authorize(remote, hello); err != nil {
		refuse(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stats Stats
	if hello.Mode == ModeGet {
		stats, err = give(c, hello.Ref, s.blobs, nil)
	} else {
		p := &puller{c: c, ref: hello.Ref, dst: s.blobs, ctx: ctx, start: time.Now()}
		stats, err = p.pull()
	}
	s.count(func(x *ServerStats) {
		switch {
		case err != nil:
			x.Failed++
		case hello.Mode == ModeGet:
			x.Served++
		default:
			x.Accepted++
		}
		if hello.Mode == ModeGet {
			x.BytesOut += stats.BlockBytes
			x.BlocksOut += stats.Blocks
		} else {
			x.BytesIn += stats.BlockBytes
			x.BlocksIn += stats.Blocks
		}
	})
	if err != nil {
		s.log.Info("blobxfer: transfer failed", "peer", remote, "ref", hello.Ref.CID, "err", err)
	}
}

// authorize: the clone's own device may get and put; another clone, with
// its owner certificate, may get what the authorizer allows.
func (s *Server) authorize(remote peer.ID, hello *Msg) error {
	if len(hello.Cert) == 0 {
		if remote != s.cert.DeviceKey {
			return fmt.Errorf("%w: %s is not this clone's device", ErrRefused, remote)
		}
		if err := s.cert.Verify(s.clock()); err != nil {
			return fmt.Errorf("%w: owner certificate: %w", ErrRefused, err)
		}
		return nil
	}
	cert, err := dht.UnmarshalOwnerCert(hello.Cert)
	if err != nil {
		return fmt.Errorf("%w: certificate: %w", ErrRefused, err)
	}
	if err := cert.Verify(s.clock()); err != nil {
		return fmt.Errorf("%w: certificate: %w", ErrRefused, err)
	}
	switch {
	case cert.Clone != remote:
		return fmt.Errorf("%w: the certificate names clone %s, the stream is from %s", ErrRefused, cert.Clone, remote)
	case hello.Mode != ModeGet:
		return fmt.Errorf("%w: only this clone's device uploads to it", ErrRefused)
	case s.auth == nil:
		return fmt.Errorf("%w: this clone serves no other clone", ErrRefused)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.params.IdleTimeout)
	defer cancel()
	if !s.auth(ctx, cert, hello.Ref) {
		return fmt.Errorf("%w: %s/%s is not a recipient of %v", ErrRefused, cert.User, cert.Device, hello.Ref.CID)
	}
	return nil
}
