package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/docsync"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Errors.
var (
	// ErrRefused: the clone refused the device (Refusal says why).
	ErrRefused = errors.New("device client: refused by the clone")
	// ErrOffline: the document is not connected.
	ErrOffline = errors.New("device client: offline")
	// ErrClosed: the document or client was closed.
	ErrClosed = errors.New("device client: closed")
	// ErrState: the persisted state cannot be read.
	ErrState = errors.New("device client: bad persisted state")
)

// Refusal is the error a refused Open or Connect returns (wraps ErrRefused).
type Refusal struct {
	Code   link.RefuseCode
	Reason string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("device client: refused by the clone (code %d): %s", r.Code, r.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (r *Refusal) Unwrap() error { return ErrRefused }

// Params tune the client.
type Params struct {
	MaxFrame      int // largest frame accepted from the clone
	UpdatesBuffer int // remote updates buffered for Updates()
	// SelectionInterval is the least time between two carets sent
	// (SetSelection coalesces to the latest in between).
	SelectionInterval time.Duration
	// PresenceTTL: Presence leaves out a caret not refreshed for this long.
	PresenceTTL time.Duration
}

// DefaultParams returns the defaults: at most 20 carets a second, and a
// caret expires after 30 s (the clone refreshes it every 10 s).
func DefaultParams() Params {
	return Params{MaxFrame: link.DefaultMaxFrame, UpdatesBuffer: 4096,
		SelectionInterval: 50 * time.Millisecond, PresenceTTL: 30 * time.Second}
}

// Option configures New.
type Option func(*Client) error

// WithParams sets the tuning numbers.
func WithParams(p Params) Option { return func(c *Client) error { c.params = p; return nil } }

// WithStateDir persists every document's state under dir.
func WithStateDir(dir string) Option { return func(c *Client) error { c.stateDir = dir; return nil } }

// WithUndo keeps an undo and redo history of depth edits for every
// document (Doc.Undo, Doc.Redo; depth < 1: undo.DefaultDepth). It costs a
// copy of the text per local edit, so only interactive editors ask for it.
// The history lives in memory only: a restart starts it afresh.
func WithUndo(depth int) Option {
	return func(c *Client) error { c.undoDepth, c.undo = depth, true; return nil }
}

// WithClock sets the clock of presence (rate limit, expiry).
func WithClock(now func() time.Time) Option { return func(c *Client) error { c.now = now; return nil } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Client) error { c.log = l; return nil } }

// Client is a device in clone mode.
type Client struct {
	h        host.Host
	clone    peer.AddrInfo
	user     peer.ID
	device   string
	params   Params
	stateDir string
	log      *slog.Logger
	// undo: documents keep an undo history of undoDepth edits.
	undo      bool
	undoDepth int
	now       func() time.Time
	// writeHook, if set (tests), runs each state write: write does it.
	writeHook func(write func() error) error

	mu     sync.Mutex
	docs   map[docsync.DocID]*Doc
	closed bool
}

// New makes a client on h (whose identity is the device key) for the clone
// at clone, as device of user.
func New(h host.Host, clone peer.AddrInfo, user peer.ID, device string, opts ...Option) (*Client, error) {
	c := &Client{h: h, clone: clone, user: user, device: device, params: DefaultParams(), log: slog.Default(), now: time.Now,
		docs: map[docsync.DocID]*Doc{}}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.params.MaxFrame < 1 || c.params.UpdatesBuffer < 1 || c.params.SelectionInterval < 0 || c.params.PresenceTTL <= 0 {
		return nil, fmt.Errorf("device client: invalid params %+v", c.params)
	}
	return c, nil
}

// Open loads the document's persisted state (if any), connects and
// returns once the first bundle is applied.
func (c *Client) Open(ctx context.Context, doc docsync.DocID) (*Doc, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if d := c.docs[doc]; d != nil {
		c.mu.Unlock()
		return d, nil
	}
	d, err := newDoc(c, doc)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	c.docs[doc] = d
	c.mu.Unlock()
	if err := d.Connect(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Load opens the document from its persisted state without connecting
// (offline): edits are kept and sent on Connect.
func (c *Client) Load(doc docsync.DocID) (*Doc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if d := c.docs[doc]; d != nil {
		return d, nil
	}
	d, err := newDoc(c, doc)
	if err != nil {
		return nil, err
	}
	c.docs[doc] = d
	return d, nil
}

// Close closes every document.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	docs := c.docs
	c.docs = map[docsync.DocID]*Doc{}
	c.mu.Unlock()
	for _, d := range docs {
		d.Close()
	}
	return nil
}

func (c *Client) forget(d *Doc) {
	c.mu.Lock()
	if c.docs[d.id] == d {
		delete(c.docs, d.id)
	}
	c.mu.Unlock()
}
