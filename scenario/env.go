package scenario

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"

	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrGather is returned when an all-gather cannot complete.
var ErrGather = errors.New("scenario: gather failed")

// Sync is how instances meet outside the network under test.
type Sync interface {
	// Gather publishes data under topic and returns what every instance
	// published under it, indexed by instance. It returns once all have.
	Gather(ctx context.Context, topic string, index int, data []byte) ([][]byte, error)
}

// Env is what a runner gives one instance.
type Env struct {
	Index  int // 0 .. Params.Instances-1
	Params Params
	Sync   Sync
	// Transport returns the transport options for each host this instance
	// starts (a simulated network in process; nil on a real one). It is
	// called once per host: simulated transports bind to one host.
	Transport func() []libp2p.Option
	// ListenAddrs are the addresses to listen on.
	ListenAddrs []ma.Multiaddr
	// DataDir is a private directory for keys and certificates.
	DataDir string
	Log     *slog.Logger
	// Shared, when set, is the datastore and resource budget of the
	// provider process that hosts this instance (Params.HostOf), shared as
	// `c2c provider --host-clones` shares them: a provider's own node
	// keeps its data at the root, a clone under /clones/<peer ID> and its
	// host on the one budget. Nil: the instance is a process of its own
	// (Testground) with an in-memory datastore.
	Shared *node.Shared
	// MeasureHeap makes the instance report its process heap (set when each
	// instance is its own process).
	MeasureHeap bool
	// Watch, if set, counts this instance's progress for the runner's
	// progress lines (in process: one Watch for every instance).
	Watch *Watch
	// Bytes, if set, is given to the docsync hosts' gossipsub as a tracer
	// (the in-process runner's meter; its transport counts streams).
	Bytes *ByteMeter
}

func (e *Env) transport() []libp2p.Option {
	if e.Transport == nil {
		return nil
	}
	return e.Transport()
}

// rng is the instance's own random stream, derived from the run seed.
func (e *Env) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(e.Params.Seed, uint64(e.Index)<<16|stream))
}

// churned says which clones (by clone number 0..clones-1) leave during the
// run: the first round(churn*clones) of a permutation seeded by the run seed,
// so every instance computes the same set.
func churned(p Params) map[int]bool {
	n := p.Clones()
	k := int(p.Churn*float64(n) + 0.5)
	perm := rand.New(rand.NewPCG(p.Seed, 0xc4)).Perm(n)
	out := make(map[int]bool, k)
	for _, c := range perm[:k] {
		out[c] = true
	}
	return out
}

// LocalSync is an in-process Sync for instances that are goroutines. It
// blocks on channels only, so it works inside a synctest bubble.
type LocalSync struct {
	n int
	// OnGathered, if set, runs once per topic when the last instance
	// arrives, before anyone is released (the in-process runner measures
	// the heap there).
	OnGathered func(topic string)
	// OnArrive, if set, runs as each instance arrives at a topic, with how
	// many have arrived so far (for progress reports).
	OnArrive func(topic string, arrived, n int)

	mu     sync.Mutex
	topics map[string]*gathering
}

type gathering struct {
	data    [][]byte
	arrived int
	done    chan struct{}
}

// NewLocalSync returns a Sync for n instances.
func NewLocalSync(n int) *LocalSync { return &LocalSync{n: n, topics: map[string]*gathering{}} }

// Gather implements Sync.
func (s *LocalSync) Gather(ctx context.Context, topic string, index int, data []byte) ([][]byte, error) {
	if index < 0 || index >= s.n {
		return nil, fmt.Errorf("%w: index %d of %d", ErrGather, index, s.n)
	}
	s.mu.Lock()
	g := s.topics[topic]
	if g == nil {
		g = &gathering{data: make([][]byte, s.n), done: make(chan struct{})}
		s.topics[topic] = g
	}
	g.data[index] = data
	g.arrived++
	arrived := g.arrived
	last := arrived == s.n
	s.mu.Unlock()
	if s.OnArrive != nil {
		s.OnArrive(topic, arrived, s.n)
	}
	if last {
		if s.OnGathered != nil {
			s.OnGathered(topic)
		}
		close(g.done)
	}
	select {
	case <-g.done:
		return g.data, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %s: %w", ErrGather, topic, ctx.Err())
	}
}
