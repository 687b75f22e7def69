package dht

import (
	"fmt"
	"log/slog"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MaxRecordAge is how long kad-dht nodes keep a value they received; the
// republish interval must stay well inside it.
const MaxRecordAge = 48 * time.Hour

// Params are the directory's tuning numbers.
type Params struct {
	// RepublishInterval: how often own records are put again into the DHT
	// (and re-gossiped). Must be below MaxRecordAge.
	RepublishInterval time.Duration
	// RetryInterval: how soon a failed (unverified) republish, or a replica
	// sync that found no provider to pull from, is retried.
	RetryInterval time.Duration
	// LookupTimeout bounds the DHT part of Lookup/Devices before the
	// replica fallback is asked.
	LookupTimeout time.Duration
	// LookupQuorum ends a DHT lookup once more than this many peers (this
	// node's own copy counts) answered with a valid record; the newest of
	// those wins. 0 waits for the whole query, which under churn means
	// waiting out a QUIC handshake timeout (5 s) to any departed peer among
	// the closest. A superseded record lives only until the next publish,
	// which puts the new one to the closest peers.
	LookupQuorum int
	// RequestTimeout bounds one request to one provider (get or sync).
	RequestTimeout time.Duration
	// MinVerifiedCopies: remote peers that must return the record (or a
	// newer one) after a put for Publish to succeed.
	MinVerifiedCopies int
	// ReplicaSyncInterval: how often a provider pulls from the others
	// (anti-entropy); it also pulls once when it starts.
	ReplicaSyncInterval time.Duration
	// MaxSyncEntries caps the summary a sync responder accepts.
	MaxSyncEntries int
}

// DefaultParams are production defaults.
func DefaultParams() Params {
	return Params{
		RepublishInterval:   12 * time.Hour,
		RetryInterval:       time.Minute,
		LookupTimeout:       20 * time.Second,
		LookupQuorum:        4,
		RequestTimeout:      10 * time.Second,
		MinVerifiedCopies:   1,
		ReplicaSyncInterval: 10 * time.Minute,
		MaxSyncEntries:      1 << 20,
	}
}

// Validate reports the first unusable number as ErrInvalidParams.
func (p Params) Validate() error {
	switch {
	case p.RepublishInterval <= 0 || p.RepublishInterval >= MaxRecordAge:
		return fmt.Errorf("%w: RepublishInterval %v must be in (0, %v)", ErrInvalidParams, p.RepublishInterval, MaxRecordAge)
	case p.RetryInterval <= 0:
		return fmt.Errorf("%w: RetryInterval %v", ErrInvalidParams, p.RetryInterval)
	case p.LookupTimeout <= 0 || p.RequestTimeout <= 0:
		return fmt.Errorf("%w: timeouts must be positive", ErrInvalidParams)
	case p.LookupQuorum < 0:
		return fmt.Errorf("%w: LookupQuorum %d", ErrInvalidParams, p.LookupQuorum)
	case p.MinVerifiedCopies < 0:
		return fmt.Errorf("%w: MinVerifiedCopies %d", ErrInvalidParams, p.MinVerifiedCopies)
	case p.ReplicaSyncInterval <= 0:
		return fmt.Errorf("%w: ReplicaSyncInterval %v", ErrInvalidParams, p.ReplicaSyncInterval)
	case p.MaxSyncEntries <= 0:
		return fmt.Errorf("%w: MaxSyncEntries %d", ErrInvalidParams, p.MaxSyncEntries)
	}
	return nil
}

type options struct {
	params    Params
	now       func() time.Time
	logger    *slog.Logger
	store     ds.Batching
	replica   bool
	providers []peer.ID
	kadStore  ds.Datastore
}

// Option configures New.
type Option func(*options) error

// WithParams replaces the default Params.
func WithParams(p Params) Option {
	return func(o *options) error { o.params = p; return nil }
}

// WithClock injects the clock used for record validity (EOL checks).
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidParams)
		}
		o.now = now
		return nil
	}
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidParams)
		}
		o.logger = l
		return nil
	}
}

// WithStore is where this node keeps the records it publishes (so it can
// republish after a restart) and, for providers, the replica. Default: an
// in-memory datastore.
func WithStore(d ds.Batching) Option {
	return func(o *options) error {
		if d == nil {
			return fmt.Errorf("%w: nil store", ErrInvalidParams)
		}
		o.store = d
		return nil
	}
}

// WithReplica makes this node a provider: it keeps a full replica of every
// record it hears about and serves it to others.
func WithReplica() Option {
	return func(o *options) error { o.replica = true; return nil }
}

// WithKadStore is the datastore kad-dht keeps the records that peers put
// to this node in (kaddht.Datastore). A provider serves a record found
// there, once it validates, as part of its replica: a clone's put reaches
// its provider over kad-dht even while the gossip mesh that would carry it
// to the replica is still forming, and a device asks that provider next.
func WithKadStore(d ds.Datastore) Option {
	return func(o *options) error {
		if d == nil {
			return fmt.Errorf("%w: nil kad store", ErrInvalidParams)
		}
		o.kadStore = d
		return nil
	}
}

// WithProviders lists the providers to ask when the DHT path fails, and
// (for a provider) the peers to pull from during anti-entropy. Peers seen
// subscribed to Topic (only providers subscribe) are used as well.
func WithProviders(ids ...peer.ID) Option {
	return func(o *options) error {
		for _, id := range ids {
			if err := id.Validate(); err != nil {
				return fmt.Errorf("%w: provider: %v", ErrInvalidParams, err)
			}
		}
		o.providers = append(o.providers, ids...)
		return nil
	}
}
