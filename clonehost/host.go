// Package clonehost runs many clones in one provider process (c2c provider
// --host-clones). Each hosted clone is a whole clone as `c2c clone` runs
// it (its own libp2p identity, the one its owner certificate names; its
// device link; its documents; its control socket, one per clone, with the
// same owner-only checks), built by node.New and node.StartCloneServices
// on parts the process shares: one go-ds-pebble datastore, where clone P
// keeps its data under /clones/P, and one resource-manager budget for
// every host.
//
// The clones live in one directory, one subdirectory each, as `c2c enroll
// --clone-data DIR/NAME` leaves them. A hosted clone listens on QUIC only
// (one UDP socket each: a QUIC connection cannot be told apart by the
// peer it is for before its handshake, so hosts cannot share a socket;
// Params.TCP adds a TCP port each, for networks that block UDP)
// and, by default, runs as a DHT client of the providers, whose DHT
// servers hold and replicate the directory's records (docs/scale.md says
// why, with figures). A clone that has held no connection and no document
// for Params.SleepAfter sleeps: it is closed, and the host holds its UDP
// port and control socket until traffic starts it again (sleep.go).
//
// While the host runs, its operator enrols, stops, starts, removes,
// exports and imports clones through the admin socket (AdminSocket, for
// c2c provider clones); Migrate moves one to another provider, and the
// export's format is package bundle. Collector exports the clones on the
// provider's --metrics endpoint.
package clonehost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clone2clone/c2c/control"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/time/rate"
)

// Files a hosted clone's directory gets from its host, for scripts (the
// same names `c2c clone` writes).
const (
	AddrsFile = "addrs" // its /p2p multiaddrs, one a line, once listening
	ReadyFile = "ready" // its peer ID, once its certificate is published
)

// Params are the tuning numbers of hosted clones.
type Params struct {
	// DHTServer makes hosted clones DHT servers, as a `c2c clone` is,
	// instead of DHT clients of the providers.
	DHTServer bool
	// ConnsLow, ConnsHigh are each clone's connection-manager watermarks.
	ConnsLow, ConnsHigh int
	// StartParallel clones are built at once while the host starts.
	StartParallel int
	// TCP makes hosted clones listen (one TCP port each) and dial on TCP
	// too, for peers and devices whose networks block UDP; by default
	// they use QUIC only.
	TCP bool
	// GossipHeartbeat and ConnCheck are each clone's gossipsub heartbeat
	// and connection-manager check interval (node.Params): the timers
	// that wake an idle clone most often.
	GossipHeartbeat, ConnCheck time.Duration
	// IdleConnTimeout is how long a clone's connection may carry nothing
	// before it is closed (node Params.IdleConnTimeout; 0: never): an
	// idle hosted clone then holds no connection, and the hosting
	// provider answers for its addresses (dht.Directory.HoldAddrs).
	IdleConnTimeout time.Duration
	// SleepAfter puts a clone to sleep once it has been published and has
	// held no connection and no document this long (0: never): it is
	// closed, its UDP port and control socket held by the host, and the
	// first datagram or control connection starts it again (sleep.go).
	// Clones that listen on TCP too (TCP) do not sleep.
	SleepAfter time.Duration
	// WakesPerSecond bounds the starts that datagrams may cause, for all
	// sleeping clones together (twice that in a burst): a stranger can
	// send a clone's port an Initial-looking datagram, and each start
	// costs tens of ms of CPU. Datagrams over the budget are dropped (the
	// dialer resends); owners' and the operator's wakes are not counted.
	// 0: no bound.
	WakesPerSecond float64
	// Capacity is the most clones the host holds, running and stopped
	// (0: no limit); Enrol and Import refuse more. The shared resource
	// manager's per-peer limits are sized for it.
	Capacity int
}

// DefaultParams are the defaults: DHT clients, 8 to 32 connections per
// clone, 8 clones built at once, a gossipsub heartbeat of 5 s (gossipsub's
// is 1 s: it forwards messages at once either way; the heartbeat repairs
// meshes and gossips message IDs), a connection check every minute, and
// connections that carry nothing for a minute closed, and clones asleep
// after a minute without a connection or a document.
func DefaultParams() Params {
	return Params{ConnsLow: 8, ConnsHigh: 32, StartParallel: 8, GossipHeartbeat: 5 * time.Second, ConnCheck: time.Minute,
		IdleConnTimeout: time.Minute, SleepAfter: time.Minute, WakesPerSecond: 10}
}

// close stops the clone: its mirror first (it uses the node), then its node.
func (c *Clone) close() error { return errors.Join(c.detach(), c.Node.Close()) }

// Clone is one hosted clone.
type Clone struct {
	Name     string // its directory's name under the clones directory
	Dir      string
	Node     *node.Node
	Services *node.CloneServices
	detach   func() error // stops what Config.Attach started
}

// Host runs the clones of one directory on one Shared.
type Host struct {
	dir     string
	shared  *node.Shared
	boot    []peer.AddrInfo
	listen  string // the IPv4 address clones listen on
	params  Params
	log     *slog.Logger
	docs    []cloneservice.Option
	replica *dht.Directory // the provider's replica, or nil
	wakes   *rate.Limiter  // datagram wakes (Params.WakesPerSecond)
	attach  func(context.Context, *Clone) (func() error, error)

	mu      sync.Mutex
	entries map[string]*entry // by name: every enrolled clone, running or stopped
	closed  bool              // Close ran: a clone started after it is closed at once
	runCtx  context.Context   // the clones' lifetime: until Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// entry is one enrolled clone of a Host.
type entry struct {
	name  string
	cert  *dht.OwnerCert
	clone *Clone             // nil while stopped or asleep
	stop  context.CancelFunc // ends its markReady
	ready chan struct{}      // closed when its markReady has returned
	busy  bool               // an admin operation on it is under way
	// asleep holds the port and control socket of a clone asleep
	// (sleep.go); idleSince is when a running clone was last seen idle.
	asleep    *holder
	idleSince time.Time
}

// Config says what clones to host and how they join.
type Config struct {
	// Dir holds one subdirectory per enrolled clone.
	Dir string
	// Shared is the process's datastore and resource manager.
	Shared *node.Shared
	// Bootstrap are the providers the clones join through: the hosting
	// provider first (its scanner and the clones' own provider), then the
	// others.
	Bootstrap []peer.AddrInfo
	// ListenIP is the IPv4 address the clones listen on.
	ListenIP string
	Params   Params
	Logger   *slog.Logger
	// DocOptions are passed to every clone's document service.
	DocOptions []cloneservice.Option
	// Replica is the hosting provider's directory: each clone's records
	// go into its replica once published (dht.Directory.Hold). Optional.
	Replica *dht.Directory
	// Attach starts more services on each clone once its own are up (the
	// mirror: cmd/c2c assembles it, as for c2c clone), with a context that
	// lasts until the host closes; the function it returns stops them
	// before the clone's node closes. Optional.
	Attach func(ctx context.Context, c *Clone) (func() error, error)
}

// Open starts every enrolled clone under cfg.Dir but those the operator
// stopped (StoppedFile), which it lists; the directory may hold none, and
// clones come later through Enrol and Import. progress(done, total) is
// called as they come up (nil: no progress). On error the clones already
// started are closed.
func Open(ctx context.Context, cfg Config, progress func(done, total int)) (_ *Host, err error) {
	if cfg.Shared == nil || len(cfg.Bootstrap) == 0 || cfg.ListenIP == "" {
		return nil, errors.New("clonehost: Shared, Bootstrap and ListenIP are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Params.StartParallel < 1 {
		cfg.Params.StartParallel = 1
	}
	names, err := Enrolled(cfg.Dir)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h := &Host{dir: cfg.Dir, shared: cfg.Shared, boot: cfg.Bootstrap, listen: cfg.ListenIP, params: cfg.Params,
		log: cfg.Logger, docs: cfg.DocOptions, replica: cfg.Replica, attach: cfg.Attach, entries: map[string]*entry{},
		runCtx: runCtx, cancel: cancel,
		wakes: wakeLimiter(cfg.Params.WakesPerSecond)}
	defer func() {
		if err != nil {
			_ = h.Close()
		}
	}()
	clearImports(cfg.Dir)
	// Clones the operator stopped stay stopped (listed, not started).
	var run []string
	for _, name := range names {
		cert, err := node.ReadOwnerCert(filepath.Join(cfg.Dir, name))
		if err != nil {
			return nil, err
		}
		h.entries[name] = &entry{name: name, cert: cert}
		if !isStopped(filepath.Join(cfg.Dir, name)) {
			run = append(run, name)
		}
	}
	names = run
	clones := make([]*Clone, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, cfg.Params.StartParallel)
	var wg sync.WaitGroup
	var done sync.Mutex
	started := 0
	for i, name := range names {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			clones[i], errs[i] = h.start(ctx, name)
			done.Lock()
			started++
			if progress != nil {
				progress(started, len(names))
			}
			done.Unlock()
		})
	}
	wg.Wait()
	for _, c := range clones {
		if c != nil {
			h.entries[c.Name].clone = c
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, e := range h.entries {
		if e.clone != nil {
			h.watch(e)
		}
	}
	if h.params.SleepAfter > 0 && !h.params.TCP {
		h.wg.Go(func() { h.sleepLoop(runCtx) })
	}
	return h, nil
}

// Enrolled lists the subdirectories of dir that hold an owner
// certificate, sorted (not those whose name starts with a dot: an
// import under way).
func Enrolled(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("clonehost: clones directory: %w", err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), node.OwnerCertFile)); err == nil {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// start builds one clone: its node on the shared parts, then its services.
func (h *Host) start(ctx context.Context, name string) (*Clone, error) {
	dir := filepath.Join(h.dir, name)
	cert, err := node.ReadOwnerCert(dir)
	if err != nil {
		return nil, err
	}
	// A ready file from a previous run must not fool scripts.
	if err := os.Remove(filepath.Join(dir, ReadyFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	listen := []ma.Multiaddr{ma.StringCast("/ip4/" + h.listen + "/udp/0/quic-v1")}
	if h.params.TCP {
		listen = append(listen, ma.StringCast("/ip4/"+h.listen+"/tcp/0"))
	}
	cfg := NodeConfig(dir, listen, h.boot, h.params)
	log := h.log.With("clone", name)
	opts := append(NodeOptions(h.shared, cert.Clone, h.params), node.WithLogger(log))
	n, err := node.New(ctx, cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("clonehost: clone %s: %w", name, err)
	}
	svc, err := n.StartCloneServices(filepath.Join(dir, control.SocketFile), h.docs...)
	if err != nil {
		_ = n.Close()
		return nil, fmt.Errorf("clonehost: clone %s: %w", name, err)
	}
	c := &Clone{Name: name, Dir: dir, Node: n, Services: svc, detach: func() error { return nil }}
	if h.attach != nil {
		if c.detach, err = h.attach(h.runCtx, c); err != nil {
			_ = n.Close()
			return nil, fmt.Errorf("clonehost: clone %s: %w", name, err)
		}
	}
	if err := writeLines(filepath.Join(dir, AddrsFile), n.P2PAddrs()); err != nil {
		_ = c.detach()
		_ = n.Close()
		return nil, err
	}
	if h.replica != nil {
		h.replica.HoldAddrs(n.ID(), n.Host().Addrs())
	}
	return c, nil
}

// watch runs markReady for e's running clone until the clone stops or
// the host closes. Call with e.clone set, before anyone else sees it.
func (h *Host) watch(e *entry) {
	ctx, cancel := context.WithCancel(h.runCtx)
	done := make(chan struct{})
	e.stop, e.ready = cancel, done
	c := e.clone
	h.wg.Go(func() {
		defer close(done)
		h.markReady(ctx, c)
	})
}

// NodeConfig is the node config of a hosted clone whose data dir is dir,
// listening on listen and joining through boot: a clone's defaults with
// p's connection watermarks, gossipsub heartbeat and connection check.
// The in-process simulation builds its clones with it too (scenario).
func NodeConfig(dir string, listen []ma.Multiaddr, boot []peer.AddrInfo, p Params) node.Config {
	cfg := node.DefaultConfig(node.RoleClone, dir)
	cfg.ListenAddrs = listen
	cfg.Bootstrap = boot
	cfg.Params.ConnsLow, cfg.Params.ConnsHigh = p.ConnsLow, p.ConnsHigh
	cfg.Params.GossipHeartbeat, cfg.Params.ConnCheck = p.GossipHeartbeat, p.ConnCheck
	cfg.Params.IdleConnTimeout = p.IdleConnTimeout
	return cfg
}

// NodeOptions are the node options of the hosted clone clone: its data
// under /clones/<peer ID> in shared's datastore and its host on shared's
// resource budget (shared nil: a datastore and budget of its own, for a
// clone that is a process of its own, as under Testground), QUIC only
// unless p.TCP, and unless p.DHTServer a DHT client of the providers.
func NodeOptions(shared *node.Shared, clone peer.ID, p Params) []node.Option {
	var opts []node.Option
	if !p.TCP {
		opts = append(opts, node.WithQUICOnly())
	}
	if shared != nil {
		opts = append(opts,
			// Keyed by the peer ID, not the directory's name: the data
			// stays the clone's whatever its directory is called.
			node.WithSharedDatastore(shared, "/clones/"+clone.String()),
			node.WithSharedLimits(shared))
	}
	if !p.DHTServer {
		// A DHT client's routing table holds DHT servers only, here the
		// providers it bootstraps from: fewer than kad's threshold of 10,
		// so kad ran a full table refresh (a self lookup and one per
		// bucket) every 2 minutes per clone, finding nobody new. The
		// node's bootstrapper still refreshes the table each time a
		// provider connects or reconnects.
		opts = append(opts, node.WithKadOptions(kaddht.Mode(kaddht.ModeClient), kaddht.DisableAutoRefresh()))
	}
	return opts
}

// markReady writes c's ready file once its certificate is published, and
// puts its records into the provider's replica.
func (h *Host) markReady(ctx context.Context, c *Clone) {
	select {
	case <-ctx.Done():
	case <-c.Node.Published():
		if h.replica != nil {
			if err := h.replica.Hold(ctx, c.Node.OwnerCert(), c.Node.DeviceIndex()); err != nil {
				h.log.Warn("provider replica does not hold the clone's records", "clone", c.Name, "err", err)
			}
		}
		if err := keystore.WriteFile(filepath.Join(c.Dir, ReadyFile), []byte(c.Node.ID().String()+"\n")); err != nil {
			h.log.Warn("writing ready file", "clone", c.Name, "err", err)
		}
	}
}

func writeLines(path string, addrs []ma.Multiaddr) error {
	var b []byte
	for _, a := range addrs {
		b = append(b, a.String()...)
		b = append(b, '\n')
	}
	return keystore.WriteFile(path, b)
}

// Clones are the running hosted clones, sorted by name.
func (h *Host) Clones() []*Clone {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*Clone
	for _, e := range h.entries {
		if e.clone != nil {
			out = append(out, e.clone)
		}
	}
	slices.SortFunc(out, func(a, b *Clone) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Clone is the running hosted clone with peer ID id, or nil.
func (h *Host) Clone(id peer.ID) *Clone {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.entries {
		if e.clone != nil && e.clone.Node.ID() == id {
			return e.clone
		}
	}
	return nil
}

// Close stops every clone (in parallel: each waits for its own
// connections to close) and leaves the Shared open for its owner. It
// does not mark them stopped: the next Open starts them again.
func (h *Host) Close() error {
	h.cancel()
	h.mu.Lock()
	h.closed = true
	var held []*holder
	for _, e := range h.entries {
		if e.asleep != nil {
			held = append(held, e.asleep)
			e.asleep = nil
		}
	}
	h.mu.Unlock()
	for _, s := range held {
		s.close()
	}
	h.wg.Wait()
	h.mu.Lock()
	var clones []*Clone
	for _, e := range h.entries {
		if e.clone != nil {
			clones = append(clones, e.clone)
			e.clone = nil
		}
	}
	h.mu.Unlock()
	errs := make([]error, len(clones))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, c := range clones {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = c.close()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
