package cloneservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/seqservice/netproto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// Directory finds clones: *dht.Directory implements it.
type Directory interface {
	Lookup(ctx context.Context, user peer.ID, device string) (*dht.OwnerCert, error)
	Resolve(ctx context.Context, clone peer.ID) (peer.AddrInfo, error)
}

// Params are the service's tuning numbers.
type Params struct {
	// Tick is the period of the loop's timer (resubmits, heads, retries).
	Tick time.Duration
	// ResubmitAfter re-sends an in-flight envelope not committed by then.
	ResubmitAfter time.Duration
	// HeadInterval is the minimum gap between two head gossips of a document.
	HeadInterval time.Duration
	// HeadRepeat re-gossips an unchanged head this often.
	HeadRepeat time.Duration
	// FetchRetry re-asks for a range that is still missing after this long.
	FetchRetry time.Duration
	// DialInterval is how often member connections are checked.
	DialInterval time.Duration
	// MemberDials is how many member clones each document keeps connections to.
	MemberDials int
	// StreamTimeout bounds one stream exchange.
	StreamTimeout time.Duration
	// SubscriberBuffer is the event buffer of one subscription.
	SubscriberBuffer int
	// MaxDocs caps the documents this clone tracks.
	MaxDocs int
	// Replica tunes each docsync.Replica.
	Replica docsync.Params
}

// DefaultParams returns the default Params.
func DefaultParams() Params {
	return Params{Tick: 100 * time.Millisecond, ResubmitAfter: 2 * time.Second,
		HeadInterval: 200 * time.Millisecond, HeadRepeat: 2 * time.Second,
		FetchRetry: time.Second, DialInterval: 2 * time.Second, MemberDials: 8,
		StreamTimeout: 10 * time.Second, SubscriberBuffer: 1024, MaxDocs: 1000,
		Replica: docsync.DefaultParams()}
}

// Validate checks the params.
func (p Params) Validate() error {
	if p.Tick <= 0 || p.ResubmitAfter <= 0 || p.HeadInterval <= 0 || p.HeadRepeat <= 0 ||
		p.FetchRetry <= 0 || p.DialInterval <= 0 || p.MemberDials < 0 || p.StreamTimeout <= 0 ||
		p.SubscriberBuffer < 1 || p.MaxDocs < 1 {
		return fmt.Errorf("%w: %+v", ErrInvalidParams, p)
	}
	return nil
}

// Option configures New.
type Option func(*options) error

type options struct {
	params Params
	log    *slog.Logger
	reg    prometheus.Registerer
	dir    Directory
	accept func(from peer.ID, inv *netproto.Invitation) bool
}

// WithParams sets the tuning numbers.
func WithParams(p Params) Option { return func(o *options) error { o.params = p; return nil } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("cloneservice: nil logger")
		}
		o.log = l
		return nil
	}
}

// WithMetrics registers the service's Prometheus metrics with reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(o *options) error { o.reg = reg; return nil }
}

// WithDirectory sets the directory used by Invite and to reach members.
func WithDirectory(d Directory) Option { return func(o *options) error { o.dir = d; return nil } }

// WithInvitePolicy decides which invitations to accept (default: all). An
// invitation grants nothing by itself: the clone fetches and verifies a log
// under the sequencer key it names, and until an entry verifies, a later
// invitation naming another key replaces it (see Join).
func WithInvitePolicy(f func(from peer.ID, inv *netproto.Invitation) bool) Option {
	return func(o *options) error { o.accept = f; return nil }
}

// Sentinel errors.
var (
	// ErrInvalidParams: Params failed Validate.
	ErrInvalidParams = errors.New("cloneservice: invalid params")
	// ErrUnknownDoc: this clone does not track the document.
	ErrUnknownDoc = errors.New("cloneservice: unknown document")
	// ErrNoDirectory: Invite needs WithDirectory.
	ErrNoDirectory = errors.New("cloneservice: no directory configured")
	// ErrTooManyDocs: the clone tracks MaxDocs documents already.
	ErrTooManyDocs = errors.New("cloneservice: document limit reached")
	// ErrClosed: the service is closed.
	ErrClosed = errors.New("cloneservice: closed")
	// ErrStorage: a datastore write failed; the document stopped.
	ErrStorage = errors.New("cloneservice: storage failure")
	// ErrRefused: the peer refused an invitation.
	ErrRefused = errors.New("cloneservice: invitation refused")
)
