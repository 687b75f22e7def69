package downloader

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/downloads"
	"github.com/ipfs/go-datastore"
)

// Namespace is the datastore prefix of the downloader's records.
const Namespace = "/downloader"

// Mirror is the clone's mirror: *mirrorservice.Server implements it.
type Mirror interface {
	Relay(ctx context.Context, app string, payload []byte) error
	View(ctx context.Context, f func(*replication.AppSet)) error
}

// Scanner gives the verdict on a blob of the mirror's store. open reads
// its content (checked against its SHA-256).
type Scanner interface {
	Scan(ctx context.Context, ref boxostore.Ref, open func() (io.ReadCloser, error)) (downloads.Verdict, error)
}

// Params are the downloader's tuning numbers.
type Params struct {
	MaxBytes       uint64        // the largest file fetched
	MaxRedirects   int           // redirects followed
	ConnectTimeout time.Duration // TCP connect and TLS handshake
	HeaderTimeout  time.Duration // from the request sent to the response's headers
	IdleTimeout    time.Duration // no byte of the body for this long cuts the transfer
	FlushBytes     int           // bytes kept durably at a time
	// MaxAttempts bounds the requests in a row that end without a new
	// byte kept; then the download fails.
	MaxAttempts        int
	RetryMin, RetryMax time.Duration // backoff between attempts
	Parallel           int           // downloads at once
	// MaxDuration bounds one download's fetch in this process, resumed
	// requests and backoff included: a server that trickles a byte just
	// inside IdleTimeout, or one per request, would otherwise hold one of
	// the Parallel slots for ever. Past it the download fails (the device
	// may retry it); a restart of the clone starts the bound again.
	MaxDuration time.Duration
	// AllowPrivate lets the clone fetch from addresses that are not public
	// (publicAddr: loopback, private, link-local and the rest; tests and
	// the loopback demo, never a provider).
	AllowPrivate bool
}

// DefaultParams returns 64 MiB files (the blob transfer's cap, which
// MaxBytes may not pass), 5
// redirects, 10 s connect, 30 s header and idle timeouts, 256 KiB flushes,
// 8 fruitless attempts with 1 s to 1 min backoff, 2 at once, 1 h each
// at most (64 MiB at 18 KB/s).
func DefaultParams() Params {
	return Params{MaxBytes: 64 << 20, MaxRedirects: 5, ConnectTimeout: 10 * time.Second, HeaderTimeout: 30 * time.Second,
		IdleTimeout: 30 * time.Second, FlushBytes: boxostore.ChunkSize, MaxAttempts: 8, RetryMin: time.Second,
		RetryMax: time.Minute, Parallel: 2, MaxDuration: time.Hour}
}

// Validate reports a field out of range.
func (p Params) Validate() error {
	if p.MaxBytes > blobxfer.MaxBlobBytes {
		return fmt.Errorf("downloader: MaxBytes %d over the %d bytes a device can pull (blobxfer.MaxBlobBytes)", p.MaxBytes, blobxfer.MaxBlobBytes)
	}
	if p.MaxBytes == 0 || p.MaxRedirects < 0 || p.ConnectTimeout <= 0 || p.HeaderTimeout <= 0 ||
		p.IdleTimeout <= 0 || p.FlushBytes < 1 || p.MaxAttempts < 1 || p.RetryMin <= 0 || p.RetryMax < p.RetryMin || p.Parallel < 1 || p.MaxDuration <= 0 {
		return fmt.Errorf("downloader: invalid params %+v", p)
	}
	return nil
}

// Report is where one download stands on the clone.
type Report struct {
	Done, Total int64 // bytes kept; the size announced (-1 unknown)
	Attempts    int   // requests made
	State       string
	Err         string // the last error
}

// States of a Report.
const (
	StateFetching = "fetching"
	StateScanning = "scanning"
	StateCached   = "cached"
	StateFailed   = "failed"
)

// Stats count what the downloader did since it started.
type Stats struct {
	Started   uint64 // downloads begun or taken up again (after a restart)
	Requests  uint64 // HTTP requests made
	Resumed   uint64 // requests that continued from the bytes kept (a 206)
	Restarted uint64 // requests that had to start again from zero (a 200 to a Range)
	Bytes     uint64 // body bytes kept
	Cached    uint64
	Failed    uint64
	Relayed   uint64 // "file cached" or "failed" relayed to the mirror
}

// Option configures New.
type Option func(*Service)

// WithParams sets the tuning numbers.
func WithParams(p Params) Option { return func(s *Service) { s.params = p } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// Service is one clone's downloader: an observer of its mirror's outputs.
type Service struct {
	ds      datastore.Batching
	blobs   *boxostore.Store
	scanner Scanner
	params  Params
	log     *slog.Logger
	client  *http.Client
	mirror  Mirror

	kick chan struct{}

	mu      sync.Mutex
	reports map[[32]byte]Report
	stats   Stats

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New makes the downloader of a clone that keeps its records in ds, the
// files in blobs, and scans them with scanner. It starts with Start.
func New(ds datastore.Batching, blobs *boxostore.Store, scanner Scanner, opts ...Option) (*Service, error) {
	s := &Service{ds: ds, blobs: blobs, scanner: scanner, params: DefaultParams(), log: slog.Default(),
		kick: make(chan struct{}, 1), reports: map[[32]byte]Report{}}
	for _, o := range opts {
		o(s)
	}
	if err := s.params.Validate(); err != nil {
		return nil, err
	}
	if scanner == nil || blobs == nil {
		return nil, errors.New("downloader: a blob store and a scanner are required")
	}
	s.client = newClient(s.params)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start begins serving mirror's download requests: every request not
// relayed yet is fetched (resumed where a previous run stopped).
func (s *Service) Start(mirror Mirror) {
	s.mirror = mirror
	s.wg.Add(1)
	go s.loop()
}

// Close stops the downloader; what it kept stays for the next Start.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// Progress returns where download id stands on this clone.
func (s *Service) Progress(id [32]byte) (Report, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reports[id]
	return r, ok
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

func (s *Service) report(id [32]byte, f func(*Report)) {
	s.mu.Lock()
	r, ok := s.reports[id]
	if !ok {
		r.Total = -1
	}
	f(&r)
	s.reports[id] = r
	s.mu.Unlock()
}

// Outputs is the mirror service's observer hook: a request or a retry
// replayed wakes the loop. It never blocks.
func (s *Service) Outputs(outs []replication.AppOutput) {
	for _, ao := range outs {
		for _, o := range ao.Outputs {
			if o.Kind == downloads.OutputFetch {
				select {
				case s.kick <- struct{}{}:
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

// job is one try of one request.
type job struct {
	id  [32]byte
	try uint64
	url string
}

func (j job) key() string { return hex.EncodeToString(j.id[:]) + "/" + strconv.FormatUint(j.try, 10) }

// loop starts a worker for every requested download of the mirror not
// relayed yet, Parallel at most, on Start and whenever a request replays.
func (s *Service) loop() {
	defer s.wg.Done()
	running := map[string]bool{}
	done := make(chan string, s.params.Parallel)
	for {
		for _, j := range s.pending() {
			if running[j.key()] || len(running) >= s.params.Parallel {
				continue
			}
			running[j.key()] = true
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.run(j)
				done <- j.key()
			}()
		}
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		case k := <-done:
			delete(running, k)
		}
	}
}

// pending returns the mirror's requested downloads not relayed yet.
func (s *Service) pending() []job {
	var items []*downloads.Item
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	err := s.mirror.View(ctx, func(set *replication.AppSet) {
		if set == nil {
			return
		}
		if a, ok := set.App(downloads.Name); ok {
			items = a.(*downloads.App).List()
		}
	})
	if err != nil {
		s.log.Debug("downloader: no mirror to read", "err", err)
		return nil
	}
	var out []job
	for _, it := range items {
		j := job{id: it.ID, try: it.Tries, url: it.URL}
		if it.Status != downloads.StatusRequested {
			continue
		}
		if ok, _ := s.ds.Has(s.ctx, doneKey(j.key())); !ok {
			out = append(out, j)
		}
	}
	return out
}
