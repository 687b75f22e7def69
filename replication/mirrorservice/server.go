package mirrorservice

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/internal/evloop"
	"github.com/clone2clone/c2c/replication/syncwire"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Errors.
var (
	// ErrRefused: a device failed the owner-certificate check.
	ErrRefused = errors.New("mirror service: device refused")
	// ErrClosed: the service stopped (closed, or its journal failed).
	ErrClosed = errors.New("mirror service: closed")
	// ErrParams: Params out of range.
	ErrParams = errors.New("mirror service: invalid params")
)

// Params tune the service.
type Params struct {
	HelloTimeout time.Duration // a device must say Hello within this
	SendQueue    int           // frames queued to a device; a device that falls further behind is dropped
	NetBacklog   int           // network inputs re-sent on one Hello
}

// DefaultParams returns the defaults.
func DefaultParams() Params {
	return Params{HelloTimeout: 10 * time.Second, SendQueue: 4096, NetBacklog: 4096}
}

// Observer hears what the mirror did, on the service's loop: it must not block.
type Observer interface {
	Replayed(r replication.Replayed, bytes int)
	Notice(n replication.Notice)
	Outputs(outs []replication.AppOutput)
}

// Option configures New.
type Option func(*Server) error

// WithParams sets the tuning numbers.
func WithParams(p Params) Option {
	return func(s *Server) error {
		if p.HelloTimeout <= 0 || p.SendQueue < 16 || p.NetBacklog < 1 {
			return fmt.Errorf("%w: %+v", ErrParams, p)
		}
		s.params = p
		return nil
	}
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Server) error { s.log = l; return nil } }

// WithClock sets the clock (replay times and certificate checks).
func WithClock(now func() time.Time) Option {
	return func(s *Server) error { s.clock = now; return nil }
}

// WithObserver sets the observer.
func WithObserver(o Observer) Option { return func(s *Server) error { s.obs = o; return nil } }

// Server is the replay server of one clone.
type Server struct {
	h      host.Host
	cert   *dht.OwnerCert
	params Params
	log    *slog.Logger
	clock  func() time.Time
	obs    Observer

	st      *state
	sess    *session
	acked   uint64 // the last batch acked to the current session
	bytesIn int    // batch frame bytes since the last replay (for the observer)

	reqs   chan func()
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    error // why the loop stopped (set before ctx ends)
}

// New recovers the mirror from ds (the clone's datastore; the journal lives
// under Namespace) and serves syncwire.Protocol on h for the device that
// cert authorizes. reg holds the apps a device may name.
func New(ctx context.Context, h host.Host, ds datastore.Batching, cert *dht.OwnerCert, reg *replication.Registry, opts ...Option) (*Server, error) {
	s := &Server{h: h, cert: cert, params: DefaultParams(), log: slog.Default(), clock: time.Now, reqs: make(chan func())}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if cert == nil || cert.Clone != h.ID() {
		return nil, fmt.Errorf("%w: the owner certificate does not name this clone", ErrRefused)
	}
	dev, err := DeviceOf(cert.DeviceKey)
	if err != nil {
		return nil, err
	}
	if s.st, err = recoverState(ctx, ds, reg, dev); err != nil {
		return nil, fmt.Errorf("mirror service: recover: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.loop()
	h.SetStreamHandler(syncwire.Protocol, s.handle)
	return s, nil
}

// DeviceOf returns the replication DeviceID of an Ed25519 device peer ID.
func DeviceOf(p peer.ID) (replication.DeviceID, error) {
	pub, err := p.ExtractPublicKey()
	if err != nil || pub.Type() != crypto.Ed25519 {
		return replication.DeviceID{}, fmt.Errorf("%w: device key %s is not Ed25519", ErrRefused, p)
	}
	raw, err := pub.Raw()
	if err != nil {
		return replication.DeviceID{}, err
	}
	return replication.DeviceIDOf(ed25519.PublicKey(raw))
}

// Close stops serving; the journal holds everything acknowledged.
func (s *Server) Close() error {
	s.h.RemoveStreamHandler(syncwire.Protocol)
	s.cancel()
	s.wg.Wait()
	return nil
}

// do runs f on the loop and waits for it.
func (s *Server) do(ctx context.Context, f func()) error {
	return evloop.Do(ctx, s.ctx, s.reqs, f, ErrClosed)
}

// Relay accepts a network input for the device (a message from another
// user's clone, a document update, a cached download): when it returns nil
// the input is durable, and it reaches the device now or at its next
// Hello. It works while the device is off.
func (s *Server) Relay(ctx context.Context, app string, payload []byte) error {
	var err error
	if e := s.do(ctx, func() { err = s.relay(app, payload) }); e != nil {
		return e
	}
	return err
}

// Snapshot returns the operator's view.
func (s *Server) Snapshot(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	err := s.do(ctx, func() { snap = s.st.snapshot() })
	return snap, err
}

// View runs f on the loop with the mirror's apps (nil before the device's
// first Hello); f must only read them.
func (s *Server) View(ctx context.Context, f func(*replication.AppSet)) error {
	return s.do(ctx, func() {
		if s.st.m == nil {
			f(nil)
			return
		}
		f(s.st.m.Apps())
	})
}

// handle authorizes a stream's Hello, then hands the session to the loop.
func (s *Server) handle(st network.Stream) {
	_ = st.SetReadDeadline(s.clock().Add(s.params.HelloTimeout))
	r := bufio.NewReader(st)
	m, _, err := syncwire.ReadFrame(r, syncwire.HelloFrame)
	if err != nil || m.Kind != syncwire.KindHello {
		s.log.Debug("mirror: bad hello", "peer", st.Conn().RemotePeer(), "err", err)
		_ = st.Reset()
		return
	}
	if code, err := s.authorize(st.Conn().RemotePeer(), m.Hello); err != nil {
		s.log.Warn("mirror: device refused", "peer", st.Conn().RemotePeer(), "err", err)
		_, _ = syncwire.WriteFrame(st, &syncwire.Message{Kind: syncwire.KindRefuse, Code: code, Reason: err.Error()})
		_ = st.Close()
		return
	}
	_ = st.SetReadDeadline(time.Time{})
	sess := newSession(s, st, r)
	if err := s.do(s.ctx, func() { s.hello(sess, m.Hello) }); err != nil {
		_ = st.Reset()
	}
}

// authorize checks a Hello from peer p against the owner certificate, as
// the device link does.
func (s *Server) authorize(p peer.ID, h *syncwire.Hello) (syncwire.RefuseCode, error) {
	c := s.cert
	switch {
	case !bytes.Equal(h.User, []byte(c.User)):
		return syncwire.RefuseOtherUser, fmt.Errorf("%w: device of another user; this clone serves %s", ErrRefused, c.User)
	case h.Device != c.Device:
		return syncwire.RefuseUnenrolled, fmt.Errorf("%w: device %q is not enrolled here", ErrRefused, h.Device)
	case p != c.DeviceKey:
		return syncwire.RefuseWrongKey, fmt.Errorf("%w: %s is not the key enrolled for %q", ErrRefused, p, h.Device)
	}
	if err := c.Verify(s.clock()); err != nil {
		return syncwire.RefuseUnenrolled, fmt.Errorf("%w: owner certificate: %w", ErrRefused, err)
	}
	return 0, nil
}

// Observers returns an Observer that tells each of obs in turn (nil ones skipped).
func Observers(obs ...Observer) Observer { return observers(obs) }

type observers []Observer

func (os observers) Replayed(r replication.Replayed, bytes int) {
	for _, o := range os {
		if o != nil {
			o.Replayed(r, bytes)
		}
	}
}

func (os observers) Notice(n replication.Notice) {
	for _, o := range os {
		if o != nil {
			o.Notice(n)
		}
	}
}

func (os observers) Outputs(outs []replication.AppOutput) {
	for _, o := range os {
		if o != nil {
			o.Outputs(outs)
		}
	}
}
