package syncclient

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/internal/evloop"
	"github.com/clone2clone/c2c/replication/journal"
	"github.com/clone2clone/c2c/replication/syncwire"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Errors.
var (
	// ErrRefused: the clone refused the device (Refusal says why).
	ErrRefused = errors.New("sync client: refused by the clone")
	// ErrClosed: the client stopped (closed, or its journal failed).
	ErrClosed = errors.New("sync client: closed")
	// ErrOffline: no session with the clone.
	ErrOffline = errors.New("sync client: offline")
	// ErrMirrorAhead: the clone holds batches this device does not (its state was lost).
	ErrMirrorAhead = errors.New("sync client: the mirror is ahead of the device")
)

// Refusal is the error a refused Connect returns (wraps ErrRefused).
type Refusal struct {
	Code   syncwire.RefuseCode
	Reason string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("sync client: refused by the clone (code %d): %s", r.Code, r.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (r *Refusal) Unwrap() error { return ErrRefused }

// Config says who the device is and, for a new mirror epoch, its settings.
type Config struct {
	User   peer.ID
	Device string
	// Apps, SyncInterval and MaxDelay fix a new epoch (epoch 1); a device
	// whose journal exists keeps the settings it began with.
	Apps         []string
	SyncInterval time.Duration
	MaxDelay     time.Duration
}

// Option configures New.
type Option func(*Client) error

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Client) error { c.log = l; return nil } }

// WithClock sets the clock the device's timestamps come from.
func WithClock(now func() time.Time) Option {
	return func(c *Client) error { c.clock = now; return nil }
}

// Status is what the device knows of its mirror.
type Status struct {
	Settings  Settings
	Number    uint64 // the last batch closed
	Acked     uint64 // the last batch the clone holds durably
	Unacked   int
	Open      bool // the open batch holds inputs
	LastNet   uint64
	Frozen    bool
	Connected bool
	// Welcomed: a Welcome was heard in this process; Relayed is the last
	// network input the clone had relayed then. Until the device consumed
	// up to it, inputs it is owed are still on their way.
	Welcomed bool
	Relayed  uint64
	// Replayed is the clone's last replay report; Match says whether its
	// state hash equals the device's after that batch.
	Replayed    syncwire.Replayed
	Match       bool
	Replays     int // Replayed reports heard in this process (the Welcome's carries no lag)
	DeviceHash  replication.Hash
	Resyncs     int
	Records     uint64
	BytesSent   uint64
	UserInputs  uint64
	PayloadSent uint64
}

// Client is the sync client of one device.
type Client struct {
	h     host.Host
	clone peer.AddrInfo
	cfg   Config
	log   *slog.Logger
	clock func() time.Time

	st      *state
	conn    *conn
	status  Status
	changed chan struct{}
	heldNet []replication.NetInput // relayed while frozen

	reqs   chan func()
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type conn struct {
	st   network.Stream
	out  chan *syncwire.Message
	once sync.Once
	done chan struct{}
}

func (x *conn) close() {
	x.once.Do(func() { close(x.done); _ = x.st.Reset() })
}

// New recovers the device's mirror state from ds (the device data dir's
// store) or begins epoch 1 with cfg's settings. h's identity is the device
// key (Ed25519); clone is its clone.
func New(ctx context.Context, h host.Host, clone peer.AddrInfo, ds datastore.Batching, reg *replication.Registry, cfg Config, opts ...Option) (*Client, error) {
	c := &Client{h: h, clone: clone, cfg: cfg, log: slog.Default(), clock: time.Now, reqs: make(chan func()), changed: make(chan struct{})}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	key, err := signingKey(h.Peerstore().PrivKey(h.ID()))
	if err != nil {
		return nil, err
	}
	apps := append([]string(nil), cfg.Apps...)
	sort.Strings(apps)
	set := Settings{Epoch: 1, SyncMs: uint64(cfg.SyncInterval.Milliseconds()), MaxDelay: uint64(cfg.MaxDelay.Milliseconds()),
		Start: c.wall(), Apps: apps}
	if c.st, err = open(ctx, ds, reg, key, set); err != nil {
		return nil, fmt.Errorf("sync client: %w", err)
	}
	c.status.Acked = 0
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.loop()
	return c, nil
}

func signingKey(k crypto.PrivKey) (ed25519.PrivateKey, error) {
	if k == nil || k.Type() != crypto.Ed25519 {
		return nil, errors.New("sync client: the device key must be Ed25519")
	}
	raw, err := k.Raw()
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return nil, errors.New("sync client: bad Ed25519 device key")
	}
	return ed25519.PrivateKey(raw), nil
}

func (c *Client) wall() replication.Time { return replication.Time(c.clock().UnixMilli()) }

// now is the device's time for the core: the wall clock, never going back.
func (c *Client) now() replication.Time {
	c.st.last = max(c.st.last, c.wall())
	return c.st.last
}

// Close stops the client; the journal holds every acknowledged input.
func (c *Client) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}

func (c *Client) do(ctx context.Context, f func()) error {
	return evloop.Do(ctx, c.ctx, c.reqs, f, ErrClosed)
}

// Input applies a user input to app and records it: when it returns nil,
// the input is durable and will reach the mirror in the batch of its window.
func (c *Client) Input(ctx context.Context, app string, payload []byte) ([]replication.Output, error) {
	var outs []replication.Output
	var err error
	if e := c.do(ctx, func() {
		outs, err = c.st.d.Input(c.now(), app, payload)
		if err != nil {
			return
		}
		if !c.append(journal.NewRec(recInput).I(int64(c.st.last)).B([]byte(app)).B(payload)) {
			err = ErrClosed
			return
		}
		c.status.UserInputs++
		c.status.PayloadSent += uint64(len(payload))
		c.sendCore()
	}); e != nil {
		return nil, e
	}
	return outs, err
}

// View runs f on the loop with the device's apps (read only).
func (c *Client) View(ctx context.Context, f func(*replication.AppSet)) error {
	return c.do(ctx, func() { f(c.st.d.Apps()) })
}

// Status returns what the device knows of its mirror.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, func() { s = c.statusLocked() })
	return s, err
}

func (c *Client) statusLocked() Status {
	s := c.status
	pos := c.st.d.Position()
	s.Settings, s.Number, s.LastNet, s.Frozen = c.st.set, pos.Number, pos.LastNet, c.st.d.Frozen()
	s.Open, s.Unacked, s.Connected = c.st.d.Pending(), len(c.st.unacked), c.conn != nil
	s.DeviceHash, s.Records = c.st.d.StateHash(), c.st.journal.Len()
	return s
}

// Wait returns once cond holds for the status (checked after every
// change), or ctx ends.
func (c *Client) Wait(ctx context.Context, cond func(Status) bool) error {
	for {
		var s Status
		var ch chan struct{}
		if err := c.do(ctx, func() { s, ch = c.statusLocked(), c.changed }); err != nil {
			return err
		}
		if cond(s) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sync client: waiting: %w (status %+v)", ctx.Err(), s)
		case <-c.ctx.Done():
			return ErrClosed
		}
	}
}

// Synced is a Wait condition: the clone welcomed this device and every
// network input it had relayed by then has arrived, nothing is open or
// unacknowledged, and the clone replayed the last batch with a matching
// state hash.
func Synced(s Status) bool {
	return s.Welcomed && s.LastNet >= s.Relayed &&
		!s.Open && s.Unacked == 0 && !s.Frozen && s.Replayed.Number == s.Number && s.Match
}

func (c *Client) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}
