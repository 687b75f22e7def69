package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors.
var (
	// ErrRefused: a device failed the owner-certificate check.
	ErrRefused = errors.New("device server: device refused")
	// ErrDesync: the engine refused an edit the history holds, or a change
	// does not apply to it; the document's sessions restart under a new
	// epoch.
	ErrDesync = errors.New("device server: out of sync with the engine")
	// ErrInvalidParams: Params out of range.
	ErrInvalidParams = errors.New("device server: invalid params")
)

// Engine is what the server needs of the clone's document service;
// *cloneservice.Service implements it.
type Engine interface {
	// Attach observes the document's text on the engine's loop; edits go
	// through the attachment (see cloneservice.Service.Attach).
	Attach(ctx context.Context, doc docsync.DocID, fn func(cloneservice.Change)) (cloneservice.Attachment, cloneservice.Snapshot, error)
	Meta(ctx context.Context, doc docsync.DocID, prefix string) (map[string][]byte, error)
}

// Params tune the server.
type Params struct {
	MaxFrame     int           // largest frame accepted from a device
	HelloTimeout time.Duration // a device must say Hello within this
	History      jupiter.Params
	// PresenceInterval is the least time between two sets of the other
	// members' carets sent to a device (the latest goes; the phone's radio
	// pays for each).
	PresenceInterval time.Duration
}

// DefaultParams returns the defaults.
func DefaultParams() Params {
	return Params{MaxFrame: 16 << 20, HelloTimeout: 10 * time.Second, History: jupiter.DefaultParams(),
		PresenceInterval: 100 * time.Millisecond}
}

// Option configures New.
type Option func(*Server) error

// WithParams sets the tuning numbers.
func WithParams(p Params) Option {
	return func(s *Server) error {
		if p.MaxFrame < 1 || p.HelloTimeout <= 0 || p.PresenceInterval < 0 {
			return fmt.Errorf("%w: %+v", ErrInvalidParams, p)
		}
		s.params = p
		return nil
	}
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Server) error { s.log = l; return nil } }

// WithMetrics registers the server's refusal counter
// (c2c_device_refusals_total{reason}) with reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(s *Server) error { s.reg = reg; return nil }
}

// WithClock sets the clock certificates are checked against.
func WithClock(now func() time.Time) Option { return func(s *Server) error { s.now = now; return nil } }

// Server serves the device link on a clone host.
type Server struct {
	h      host.Host
	eng    Engine
	cert   *dht.OwnerCert
	params Params
	log    *slog.Logger
	now    func() time.Time
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	hubs map[docsync.DocID]*hub

	reg      prometheus.Registerer
	refusals *guard.Refusals
}

// New serves link.Protocol on h for the device cert authorizes; cert must
// name h as its clone.
func New(h host.Host, eng Engine, cert *dht.OwnerCert, opts ...Option) (*Server, error) {
	s := &Server{h: h, eng: eng, cert: cert, params: DefaultParams(), log: slog.Default(), now: time.Now,
		hubs: map[docsync.DocID]*hub{}}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if cert == nil || cert.Clone != h.ID() {
		return nil, fmt.Errorf("%w: the owner certificate does not name this clone", ErrRefused)
	}
	s.refusals = guard.NewRefusals(s.log, "device", "device link", time.Minute, s.now)
	if s.reg != nil {
		if err := s.reg.Register(s.refusals.Collector()); err != nil {
			return nil, fmt.Errorf("device server: metrics: %w", err)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	h.SetStreamHandler(link.Protocol, s.handle)
	return s, nil
}

// Close stops serving and ends every session.
func (s *Server) Close() error {
	s.h.RemoveStreamHandler(link.Protocol)
	if s.reg != nil {
		s.reg.Unregister(s.refusals.Collector())
	}
	s.cancel()
	s.mu.Lock()
	for _, hb := range s.hubs {
		hb.stop(errors.New("device server: closed"))
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Refusals returns the streams refused so far, by reason.
func (s *Server) Refusals() map[string]uint64 { return s.refusals.Counts() }

// authorize checks a Hello from peer p against the owner certificate.
func (s *Server) authorize(p peer.ID, h *link.Hello) (link.RefuseCode, error) {
	c := s.cert
	switch {
	case h.User != c.User:
		return link.RefuseOtherUser, fmt.Errorf("%w: device of user %s, this clone serves %s", ErrRefused, h.User, c.User)
	case h.Device != c.Device:
		return link.RefuseUnenrolled, fmt.Errorf("%w: device %q is not enrolled here", ErrRefused, h.Device)
	case p != c.DeviceKey:
		return link.RefuseWrongKey, fmt.Errorf("%w: %s is not the key enrolled for %q", ErrRefused, p, h.Device)
	}
	if err := c.Verify(s.now()); err != nil {
		return link.RefuseUnenrolled, fmt.Errorf("%w: owner certificate: %w", ErrRefused, err)
	}
	return 0, nil
}

// hubFor returns the document's hub, starting it if needed.
func (s *Server) hubFor(doc docsync.DocID) (*hub, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if hb := s.hubs[doc]; hb != nil && !hb.stopped() {
		return hb, nil
	}
	var e [8]byte
	if _, err := rand.Read(e[:]); err != nil {
		return nil, err
	}
	epoch := binary.BigEndian.Uint64(e[:]) | 1 // never 0: 0 means "no history"
	hb, err := startHub(s, doc, epoch)
	if err != nil {
		return nil, err
	}
	s.hubs[doc] = hb
	return hb, nil
}
