package deliver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Namespace is the datastore prefix of what the service keeps: messages
// seen (recipient side) and deliveries acknowledged (sender side).
const Namespace = "/deliver"

// Directory finds recipients' clones: *dht.Directory implements it.
type Directory interface {
	Lookup(ctx context.Context, user peer.ID, device string) (*dht.OwnerCert, error)
	Devices(ctx context.Context, user peer.ID) (*dht.DeviceIndex, error)
	Resolve(ctx context.Context, clone peer.ID) (peer.AddrInfo, error)
}

// Mirror is the clone's mirror: *mirrorservice.Server implements it.
type Mirror interface {
	Relay(ctx context.Context, app string, payload []byte) error
	View(ctx context.Context, f func(*replication.AppSet)) error
}

// Params are the service's tuning numbers.
type Params struct {
	RetryMin, RetryMax time.Duration // backoff between attempts of one delivery
	StreamTimeout      time.Duration // bounds one delivery stream, either side
	Parallel           int           // deliveries in flight at once
	// PeerRate bounds the delivery streams one sending clone may open,
	// checked before anything is read; UserBytes the message bytes one
	// sending user may deliver. Past them a delivery is refused as
	// unavailable, and the sender retries later.
	PeerRate, UserBytes guard.Rate
	// BlobBytes bounds the bytes of linked files one sending user may make
	// this clone pull, and AllBlobBytes those of every sender together: a
	// user key costs a stranger nothing, so the per-user bound alone is
	// no bound (4096 fresh users with BlobBytes' burst each). PullTimeout
	// bounds one linked file's pull. A pull longer than the sender's
	// StreamTimeout still completes: the sender's attempt times out, a
	// retry while the pull runs is refused as unavailable (no second pull
	// beside it), and one after it is acknowledged as a duplicate.
	BlobBytes, AllBlobBytes guard.Rate
	PullTimeout             time.Duration
}

// DefaultParams returns retries from 1 s to 5 min, 30 s streams, 8 in flight.
func DefaultParams() Params {
	return Params{RetryMin: time.Second, RetryMax: 5 * time.Minute, StreamTimeout: 30 * time.Second, Parallel: 8,
		PeerRate:     guard.Rate{PerSecond: 2, Burst: 32},
		UserBytes:    guard.Rate{PerSecond: 4 << 20, Burst: 16 << 20},
		BlobBytes:    guard.Rate{PerSecond: 16 << 20, Burst: 256 << 20},
		AllBlobBytes: guard.Rate{PerSecond: 32 << 20, Burst: 1 << 30}, PullTimeout: 10 * time.Minute}
}

// Validate reports a field out of range.
func (p Params) Validate() error {
	if p.RetryMin <= 0 || p.RetryMax < p.RetryMin || p.StreamTimeout <= 0 || p.Parallel < 1 ||
		p.PeerRate.Burst < 1 || p.UserBytes.Burst < inbox.MaxMessageBytes ||
		p.BlobBytes.Burst < blobxfer.MaxBlobBytes || p.AllBlobBytes.Burst < p.BlobBytes.Burst || p.PullTimeout <= 0 {
		return fmt.Errorf("deliver: invalid params %+v", p)
	}
	return nil
}

// Stats count what the service did.
type Stats struct {
	Sent       uint64 // deliveries acknowledged (as new or as a duplicate)
	Attempts   uint64 // delivery attempts, failed ones included
	Retries    uint64 // attempts after a failure
	Failed     uint64 // deliveries given up (a permanent refusal)
	Pending    int    // deliveries not acknowledged yet
	Received   uint64 // messages taken and relayed into the mirror
	Duplicates uint64 // messages acknowledged as already seen
	Refused    uint64 // streams refused
	// PulledBytes are the block bytes of linked files pulled from senders' clones.
	PulledBytes uint64
}

// Option configures New.
type Option func(*Service)

// WithParams sets the tuning numbers.
func WithParams(p Params) Option { return func(s *Service) { s.params = p } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock sets the clock (certificate checks, deadlines).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.clock = now } }

// Service is one clone's delivery service, both sides.
type Service struct {
	h      host.Host
	ds     datastore.Batching
	cert   *dht.OwnerCert
	blobs  *boxostore.Store
	dir    Directory
	params Params
	log    *slog.Logger
	clock  func() time.Time
	mirror Mirror

	kick chan [32]byte // ids from the mirror's outputs
	scan chan struct{} // a kick was dropped: rescan the outbox

	mu    sync.Mutex
	stats Stats
	// receiving names the messages being taken now (sender, ID): a retry
	// that arrives while the first attempt still pulls its linked files
	// is refused for later instead of pulling them again beside it. An
	// entry lives only as long as its stream's handler.
	receiving map[string]bool

	peerRate  *guard.Limiter[peer.ID]
	userBytes *guard.Limiter[peer.ID]
	blobBytes *guard.Limiter[peer.ID]
	allBlobs  *guard.Limiter[struct{}] // one bucket: every sender's linked bytes
	pull      pullFunc                 // blobxfer.PullAs

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New makes the service of the clone that cert names, keeping its records
// in ds and reading attachments from blobs. It serves Protocol at once;
// deliveries start with Start.
func New(h host.Host, ds datastore.Batching, cert *dht.OwnerCert, blobs *boxostore.Store, dir Directory, opts ...Option) (*Service, error) {
	s := &Service{h: h, ds: ds, cert: cert, blobs: blobs, dir: dir, params: DefaultParams(), log: slog.Default(),
		clock: time.Now, kick: make(chan [32]byte, 1024), scan: make(chan struct{}, 1), pull: blobxfer.PullAs}
	for _, o := range opts {
		o(s)
	}
	if err := s.params.Validate(); err != nil {
		return nil, err
	}
	if cert == nil || cert.Clone != h.ID() {
		return nil, fmt.Errorf("%w: the owner certificate does not name this clone", ErrBadCert)
	}
	s.peerRate = guard.NewLimiter[peer.ID](s.params.PeerRate, 4096)
	s.userBytes = guard.NewLimiter[peer.ID](s.params.UserBytes, 4096)
	s.blobBytes = guard.NewLimiter[peer.ID](s.params.BlobBytes, 4096)
	s.allBlobs = guard.NewLimiter[struct{}](s.params.AllBlobBytes, 1)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	h.SetStreamHandler(Protocol, s.handle)
	return s, nil
}

// Start begins delivering the outbox of mirror (and relaying received
// messages into it): every recorded request not acknowledged yet is sent.
func (s *Service) Start(mirror Mirror) {
	s.mu.Lock()
	s.mirror = mirror
	s.mu.Unlock()
	s.wg.Add(1)
	go s.loop()
}

func (s *Service) mirrorOf() Mirror {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mirror
}

// Close stops the service.
func (s *Service) Close() error {
	s.h.RemoveStreamHandler(Protocol)
	s.cancel()
	s.wg.Wait()
	return nil
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Service) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// Outputs is the mirror service's observer hook: it hears the outbox's
// requests as they replay. It never blocks.
func (s *Service) Outputs(outs []replication.AppOutput) {
	for _, ao := range outs {
		for _, o := range ao.Outputs {
			if o.Kind != outboxSend || len(o.Data) != 32 {
				continue
			}
			select {
			case s.kick <- [32]byte(o.Data):
			default:
				select {
				case s.scan <- struct{}{}:
				default:
				}
			}
		}
	}
}

// Replayed is part of the observer; the service ignores it.
func (s *Service) Replayed(replication.Replayed, int) {}

// Notice is part of the observer; the service ignores it.
func (s *Service) Notice(replication.Notice) {}
