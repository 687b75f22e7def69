package node

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/prometheus/client_golang/prometheus"
)

// Option adjusts how New assembles a node.
type Option func(*options) error

type options struct {
	libp2pOpts []libp2p.Option
	kadOpts    []kaddht.Option
	psOpts     []pubsub.Option
	dirOpts    []dht.Option
	logger     *slog.Logger
	datastore  datastore.Batching
	// A provider hosting clones (Shared): the datastore they all live in
	// and the resource manager of all their hosts.
	sharedDS   datastore.Batching
	sharedRM   network.ResourceManager
	quicOnly   bool // no TCP transport
	registerer prometheus.Registerer
	now        func() time.Time
	rand       func() float64
}

func defaultOptions() options {
	return options{
		logger: slog.Default(),
		now:    time.Now,
		rand:   rand.Float64,
	}
}

// WithLibp2pOptions appends libp2p options after the node's own, so they win
// (tests pass simquic.Transport and DisableIdentifyAddressDiscovery here).
func WithLibp2pOptions(opts ...libp2p.Option) Option {
	return func(o *options) error {
		o.libp2pOpts = append(o.libp2pOpts, opts...)
		return nil
	}
}

// WithQUICOnly leaves the TCP transport out: the host dials and listens on
// QUIC only. A hosted clone uses it, so that it holds one connection to
// each provider, not one per transport, and one socket of its own.
func WithQUICOnly() Option {
	return func(o *options) error {
		o.quicOnly = true
		return nil
	}
}

// WithKadOptions appends kad-dht options after the node's own.
func WithKadOptions(opts ...kaddht.Option) Option {
	return func(o *options) error {
		o.kadOpts = append(o.kadOpts, opts...)
		return nil
	}
}

// WithPubSubOptions adds gossipsub options to the node's own (c2c
// bench latency adds a raw tracer that counts the bytes by topic here).
func WithPubSubOptions(opts ...pubsub.Option) Option {
	return func(o *options) error {
		o.psOpts = append(o.psOpts, opts...)
		return nil
	}
}

// WithDirectoryOptions appends dht.Directory options after the node's own.
func WithDirectoryOptions(opts ...dht.Option) Option {
	return func(o *options) error {
		o.dirOpts = append(o.dirOpts, opts...)
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("node: nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithDatastore replaces the pebble datastore under the data dir by ds (for
// unit tests: an in-memory map). The node does not close it.
func WithDatastore(ds datastore.Batching) Option {
	return func(o *options) error {
		o.datastore = ds
		return nil
	}
}

// WithMetrics registers libp2p's metrics and the node's own with reg.
// Without it, libp2p metrics are disabled.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(o *options) error {
		o.registerer = reg
		return nil
	}
}

// WithClock injects the wall clock used for record expiry checks.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("node: nil clock")
		}
		o.now = now
		return nil
	}
}

// WithRand injects the uniform [0, 1) source used for backoff jitter.
func WithRand(r func() float64) Option {
	return func(o *options) error {
		if r == nil {
			return errors.New("node: nil rand")
		}
		o.rand = r
		return nil
	}
}
