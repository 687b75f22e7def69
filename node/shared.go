package node

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p/core/network"
)

// Shared is what many nodes of one process share when a provider hosts
// its clones in-process: one go-ds-pebble datastore, where each node keeps
// its data under its own prefix (Sub), and one resource-manager budget
// for all their hosts. A node built WithShared closes neither; the owner
// of the Shared closes it after every node on it.
type Shared struct {
	ds datastore.Batching
	rm network.ResourceManager // nil: each node builds its own

	closeOnce sync.Once
	closeErr  error
	closers   []func() error
}

// OpenShared opens the pebble datastore at path and, for the hosts of the
// nodes that will run on it, one resource manager from p with its per-peer
// limits multiplied by hosts, the number of hosts that will share it
// (scaledResourceManager says why). The system and per-IP limits stay
// p's: they bound the whole process.
func OpenShared(path string, p Params, hosts int) (*Shared, error) {
	ds, err := pebbleds.NewDatastore(path)
	if err != nil {
		return nil, fmt.Errorf("node: datastore %s: %w", path, err)
	}
	return NewShared(ds, p, hosts)
}

// NewShared is OpenShared on a datastore the caller opened (the
// simulation's pebble, say, which need not fsync); the Shared closes it.
// On error ds is closed.
func NewShared(ds datastore.Batching, p Params, hosts int) (*Shared, error) {
	s := &Shared{ds: ds, closers: []func() error{ds.Close}}
	rm, err := scaledResourceManager(p, hosts, false) // hosted clones export no metrics
	if err != nil {
		_ = ds.Close()
		return nil, err
	}
	s.rm = rm
	s.closers = append(s.closers, func() error { return rm.Close() })
	return s, nil
}

// Datastore is the shared datastore (the provider's own node keeps its
// data at its root, as it always has).
func (s *Shared) Datastore() datastore.Batching { return s.ds }

// Sub is the datastore under prefix, for one node.
func (s *Shared) Sub(prefix string) datastore.Batching {
	return namespace.Wrap(s.ds, datastore.NewKey(prefix))
}

// Close closes the resource manager and the datastore. Close every node
// on s first.
func (s *Shared) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for i := len(s.closers) - 1; i >= 0; i-- {
			errs = append(errs, s.closers[i]())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// keepOpen is a resource manager whose Close does nothing: a host closes
// its resource manager when it closes, and a shared one outlives each host.
type keepOpen struct{ network.ResourceManager }

func (keepOpen) Close() error { return nil }

// WithSharedDatastore makes the node keep its data under prefix in s's
// datastore ("" or "/" for its root) instead of a pebble datastore of its
// own under the data dir. The node's other files (identity, keys, owner
// certificate, remembered listen ports) stay in its data dir. The node
// does not close s.
func WithSharedDatastore(s *Shared, prefix string) Option {
	return func(o *options) error {
		if s == nil {
			return errors.New("node: nil Shared")
		}
		o.sharedDS = s.ds
		if prefix != "" && prefix != "/" {
			o.sharedDS = s.Sub(prefix)
		}
		return nil
	}
}

// WithSharedLimits makes the node's host draw on s's resource manager, one
// budget for every host of the process, instead of one of its own.
func WithSharedLimits(s *Shared) Option {
	return func(o *options) error {
		if s == nil || s.rm == nil {
			return errors.New("node: Shared without a resource manager")
		}
		o.sharedRM = s.rm
		return nil
	}
}
