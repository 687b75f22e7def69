package scanwire

import (
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// budgets are the provider's per-peer limits on scans. Each peer gets a
// rate of queries, a rate of bytes it may send to be scanned, and a cap
// on its scans in flight, under a cap over all peers; at most MaxPeers
// are tracked, an idle one making room for a new one.
type budgets struct {
	p        Params
	clock    func() time.Time
	mu       sync.Mutex
	peers    map[peer.ID]*peerBudget
	inflight int // over all peers
}

type peerBudget struct {
	queries, bytes *rate.Limiter
	inflight       int
}

func newBudgets(p Params, clock func() time.Time) *budgets {
	return &budgets{p: p, clock: clock, peers: map[peer.ID]*peerBudget{}}
}

func (b *budgets) get(id peer.ID) (*peerBudget, error) {
	pb := b.peers[id]
	if pb != nil {
		return pb, nil
	}
	if len(b.peers) >= b.p.MaxPeers {
		for old, o := range b.peers {
			if o.inflight == 0 {
				delete(b.peers, old)
				break
			}
		}
		if len(b.peers) >= b.p.MaxPeers {
			return nil, fmt.Errorf("%w: %d peers scanning", ErrBusy, len(b.peers))
		}
	}
	pb = &peerBudget{
		queries: rate.NewLimiter(rate.Limit(b.p.PeerQueriesPerSec), b.p.PeerQueryBurst),
		bytes:   rate.NewLimiter(rate.Limit(b.p.PeerBytesPerSec), int(b.p.PeerBytesBurst)),
	}
	b.peers[id] = pb
	return pb, nil
}

// query spends one query of id's budget.
func (b *budgets) query(id peer.ID) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	pb, err := b.get(id)
	if err != nil {
		return err
	}
	if !pb.queries.AllowN(b.clock(), 1) {
		return fmt.Errorf("%w: over %g queries/s", ErrBusy, b.p.PeerQueriesPerSec)
	}
	return nil
}

// scan reserves a scan of size bytes for id; the returned function ends
// it.
func (b *budgets) scan(id peer.ID, size uint64) (func(), error) {
	if size > uint64(b.p.MaxBlobBytes) {
		return nil, fmt.Errorf("%w: a blob of %d bytes, cap %d", ErrRefused, size, b.p.MaxBlobBytes)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	pb, err := b.get(id)
	if err != nil {
		return nil, err
	}
	if pb.inflight >= b.p.PeerConcurrent {
		return nil, fmt.Errorf("%w: %d scans in flight", ErrBusy, pb.inflight)
	}
	if b.inflight >= b.p.MaxConcurrent {
		return nil, fmt.Errorf("%w: the provider has %d scans in flight", ErrBusy, b.inflight)
	}
	if !pb.bytes.AllowN(b.clock(), int(size)) {
		return nil, fmt.Errorf("%w: over %g bytes/s", ErrBusy, b.p.PeerBytesPerSec)
	}
	pb.inflight++
	b.inflight++
	return func() {
		b.mu.Lock()
		pb.inflight--
		b.inflight--
		b.mu.Unlock()
	}, nil
}
