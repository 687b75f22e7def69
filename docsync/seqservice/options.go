package seqservice

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/clone2clone/c2c/internal/clock"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/prometheus/client_golang/prometheus"
)

// Params are the service's tuning numbers.
type Params struct {
	// MaxDocs caps the documents this sequencer accepts, at most
	// MaxDocsCeiling.
	MaxDocs int
	// MaxBatch caps the envelopes ordered per durable write.
	MaxBatch int
	// QueueSize is the buffer of validated envelopes waiting for the loop.
	QueueSize int
	// HeadInterval is how often a document's head is republished on its
	// heads topic (at once when it moved, every 5 intervals otherwise).
	HeadInterval time.Duration
	// StreamTimeout bounds one stream exchange (register, history, push).
	StreamTimeout time.Duration
	// MaxDocsPerAuthor caps the documents one creator may register, so
	// that one peer cannot take the MaxDocs that everyone shares.
	MaxDocsPerAuthor int
	// RegisterRate bounds one peer's register requests (checked before the
	// request is read); HistoryRate its history requests.
	RegisterRate, HistoryRate guard.Rate
	// EnvelopeRate and ByteRate bound what one author may submit, over all
	// its documents: envelopes per second and envelope bytes per second.
	// Submissions past them are dropped (the author resubmits later).
	EnvelopeRate, ByteRate guard.Rate
	// MaxPeers caps the peers and authors the rate limiters track at once.
	MaxPeers int
	// RefusalLogInterval: a peer's refusals are logged at info at most this often.
	RefusalLogInterval time.Duration
	// CheckpointEvery checkpoints a document's log state every this many
	// entries (0: never, and never compact) and deletes the entries before
	// the last KeepHistory; CheckpointWindow chain hashes are kept, so a
	// parent older than that is refused after a restart (compact.go).
	CheckpointEvery, KeepHistory uint64
	CheckpointWindow             int
}

// DefaultParams returns the default Params.
func DefaultParams() Params {
	return Params{MaxDocs: 10000, MaxBatch: 256, QueueSize: 4096,
		HeadInterval: time.Second, StreamTimeout: 10 * time.Second,
		MaxDocsPerAuthor: 256,
		RegisterRate:     guard.Rate{PerSecond: 2, Burst: 32},
		HistoryRate:      guard.Rate{PerSecond: 50, Burst: 200},
		EnvelopeRate:     guard.Rate{PerSecond: 200, Burst: 1000},
		ByteRate:         guard.Rate{PerSecond: 4 << 20, Burst: 16 << 20},
		MaxPeers:         8192, RefusalLogInterval: time.Minute,
		CheckpointEvery: 4096, KeepHistory: docsync.MaxParentLag, CheckpointWindow: 4096}
}

// MaxDocsCeiling bounds MaxDocs: the sequencer's subscriptions, one submit
// topic per document, must fit in one gossipsub control message of
// netproto.GossipMaxControlBytes (about 90 bytes each), or clones that
// connect to it cannot see it on any topic.
const MaxDocsCeiling = 20000

// Validate checks the params.
func (p Params) Validate() error {
	if p.MaxDocs < 1 || p.MaxDocs > MaxDocsCeiling || p.MaxBatch < 1 || p.QueueSize < 1 || p.HeadInterval <= 0 || p.StreamTimeout <= 0 ||
		p.MaxDocsPerAuthor < 1 || p.MaxPeers < 1 || p.RefusalLogInterval <= 0 ||
		p.RegisterRate.Burst < 1 || p.HistoryRate.Burst < 1 || p.EnvelopeRate.Burst < 1 ||
		p.ByteRate.Burst < docsync.MaxEnvelopeBytes ||
		(p.CheckpointEvery > 0 && (p.CheckpointWindow < 1 || p.CheckpointWindow > docsync.MaxParentLag)) {
		return fmt.Errorf("%w: %+v", ErrInvalidParams, p)
	}
	return nil
}

// Factory builds the sequencer of a document.
type Factory func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer

// Option configures New.
type Option func(*options) error

type options struct {
	params  Params
	log     *slog.Logger
	reg     prometheus.Registerer
	factory Factory
	now     func() time.Time
	ticker  clock.TickerFunc
}

// WithClock sets the time the quotas and the refusal log read (default
// time.Now). Stream deadlines stay on the real time.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("seqservice: nil clock")
		}
		o.now = now
		return nil
	}
}

// WithTicker sets how the loop makes its head ticker (default
// time.NewTicker): newTicker returns a ticker's channel and its stop
// function.
func WithTicker(newTicker func(d time.Duration) (<-chan time.Time, func())) Option {
	return func(o *options) error {
		if newTicker == nil {
			return errors.New("seqservice: nil ticker")
		}
		o.ticker = newTicker
		return nil
	}
}

// WithParams sets the tuning numbers.
func WithParams(p Params) Option {
	return func(o *options) error { o.params = p; return nil }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("seqservice: nil logger")
		}
		o.log = l
		return nil
	}
}

// WithMetrics registers the service's Prometheus metrics with reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(o *options) error { o.reg = reg; return nil }
}

// WithSequencer plugs another sequencer in place of sequencer.NewHonest,
// for tests and the demo (seqtest.Byzantine). The service persists and
// serves its log as it does the honest one's, members only.
func WithSequencer(f Factory) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("seqservice: nil sequencer factory")
		}
		o.factory = f
		return nil
	}
}

// Sentinel errors.
var (
	// ErrInvalidParams: Params failed Validate.
	ErrInvalidParams = errors.New("seqservice: invalid params")
	// ErrNotGenesis: a register request did not carry a valid genesis for this sequencer.
	ErrNotGenesis = errors.New("seqservice: not a genesis for this sequencer")
	// ErrTooManyDocs: the sequencer serves MaxDocs documents already.
	ErrTooManyDocs = errors.New("seqservice: document limit reached")
	// ErrAuthorQuota: the creator registered MaxDocsPerAuthor documents already.
	ErrAuthorQuota = errors.New("seqservice: this author's document quota is used up")
	// ErrRateLimited: a peer sent requests faster than its quota.
	ErrRateLimited = errors.New("seqservice: rate limited")
	// ErrNotMember: a history request from a peer that is no member.
	ErrNotMember = errors.New("seqservice: not a member of the document")
	// ErrUnknownDoc: the document is not registered here.
	ErrUnknownDoc = errors.New("seqservice: unknown document")
	// ErrClosed: the service is closed.
	ErrClosed = errors.New("seqservice: closed")
	// ErrKeyMismatch: the signing key is not the host's identity key.
	ErrKeyMismatch = errors.New("seqservice: signing key is not the host key")
)
