package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/internal/reconnect"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// ProtocolPrefix is the private DHT's protocol prefix: "/c2c/kad/1.0.0".
const ProtocolPrefix = "/c2c"

// GossipMaxMessageBytes caps one gossipsub message on every node.
const GossipMaxMessageBytes = 2 << 20

// Node is a running c2c host. Build one with New; stop it with Close.
type Node struct {
	cfg  Config
	opts options
	log  *slog.Logger

	ds   datastore.Batching
	host host.Host
	// reconnect closes connections a restarted peer replaced (nil only
	// before the host starts).
	reconnect *reconnect.Watcher
	kad       *kaddht.IpfsDHT
	ps        *pubsub.PubSub
	dir       *dht.Directory
	boot      *bootstrapper
	metrics   *metrics
	clone     *cloneState // nil unless RoleClone

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	closers   []func() error // in start order; Close runs them backwards
}

// New builds and starts a node for cfg. ctx bounds construction only; the
// node runs until Close. On error everything already started is closed.
func New(ctx context.Context, cfg Config, opts ...Option) (_ *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	n := &Node{cfg: cfg, opts: o, log: o.logger.With("role", string(cfg.Role))}
	defer func() {
		if err != nil {
			n.closeAll()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data dir: %w", err)
	}
	key, created, err := keystore.LoadOrCreatePrivKey(filepath.Join(cfg.DataDir, IdentityFile))
	if err != nil {
		return nil, fmt.Errorf("node: identity: %w", err)
	}
	if created {
		n.log.Info("generated a new identity", "file", filepath.Join(cfg.DataDir, IdentityFile))
	}
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("node: identity: %w", err)
	}
	n.log = n.log.With("peer", self.String())

	if cfg.Role == RoleClone {
		// Refuse to start before touching the network if not enrolled.
		if n.clone, err = loadCloneState(cfg.DataDir, self, o.now()); err != nil {
			return nil, err
		}
	}
	if err := n.openDatastore(); err != nil {
		return nil, err
	}
	if err := n.startHost(key); err != nil {
		return nil, err
	}
	if err := n.startDHT(); err != nil {
		return nil, err
	}
	if err := n.startPubSub(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	if err := n.startDirectory(); err != nil {
		return nil, err
	}
	kad, dir := n.kad, n.dir
	n.metrics = newMetrics(self.String(), func() float64 { return float64(kad.RoutingTable().Size()) })
	n.metrics.withDirectory(self.String(), dir.Stats)
	if o.registerer != nil {
		if err := n.metrics.register(o.registerer); err != nil {
			return nil, err
		}
		n.closers = append(n.closers, func() error { n.metrics.unregister(o.registerer); return nil })
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	n.boot = newBootstrapper(n.host, n.kad, cfg.Bootstrap, cfg.Params, o.rand, n.log, n.metrics)
	n.goRun(func() { n.boot.run(runCtx) })
	n.goRun(func() { n.dir.Run(runCtx) })
	if cfg.Params.IdleConnTimeout > 0 {
		n.goRun(func() { n.closeIdleConns(runCtx) })
	}
	if n.clone != nil {
		n.goRun(func() { n.publishCert(runCtx) })
	}
	n.log.Info("node started", "addrs", n.host.Addrs())
	return n, nil
}

func (n *Node) goRun(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

func (n *Node) openDatastore() error {
	if n.opts.datastore != nil {
		n.ds = n.opts.datastore
		return nil
	}
	if n.opts.sharedDS != nil {
		n.ds = n.opts.sharedDS // its owner closes it
		return nil
	}
	path := filepath.Join(n.cfg.DataDir, DatastoreDir)
	ds, err := pebbleds.NewDatastore(path)
	if err != nil {
		return fmt.Errorf("node: datastore %s: %w", path, err)
	}
	n.ds = ds
	n.closers = append(n.closers, ds.Close)
	return nil
}

func (n *Node) startHost(key crypto.PrivKey) error {
	rm, err := n.resourceManager()
	if err != nil {
		return err
	}
	cm, err := newConnManager(n.cfg.Params)
	if err != nil {
		rm.Close()
		return err
	}
	listen := n.cfg.ListenAddrs
	if n.opts.datastore == nil && n.cfg.DataDir != "" {
		listen = stickyListenAddrs(listen, readListenFile(n.cfg.DataDir))
	}
	h, err := n.newHost(key, listen, rm, cm)
	if err != nil && !slices.EqualFunc(listen, n.cfg.ListenAddrs, ma.Multiaddr.Equal) {
		// A remembered port is taken: fall back to fresh ones.
		n.log.Warn("previous listen ports unavailable; listening on new ones", "err", err)
		if rm, err = n.resourceManager(); err != nil {
			return err
		}
		if cm, err = newConnManager(n.cfg.Params); err != nil {
			rm.Close()
			return err
		}
		h, err = n.newHost(key, n.cfg.ListenAddrs, rm, cm)
	}
	if err != nil {
		return fmt.Errorf("node: libp2p host: %w", err)
	}
	n.host = h
	n.closers = append(n.closers, h.Close) // also closes rm and cm
	// A peer killed and restarted with the same identity leaves a dead
	// connection here that gossipsub would keep writing to.
	w, err := reconnect.Watch(h, reconnect.DefaultParams(), n.log)
	if err != nil {
		return err
	}
	n.closers = append(n.closers, w.Close)
	n.reconnect = w
	if n.opts.datastore == nil && n.cfg.DataDir != "" && len(n.cfg.ListenAddrs) > 0 {
		if err := writeListenFile(n.cfg.DataDir, h.Network().ListenAddresses()); err != nil {
			n.log.Warn("remembering listen addresses", "err", err)
		}
	}
	return nil
}

// resourceManager is the host's: its own, or the process's shared one
// behind a Close that leaves it open for the other hosts.
func (n *Node) resourceManager() (network.ResourceManager, error) {
	if n.opts.sharedRM != nil {
		return keepOpen{n.opts.sharedRM}, nil
	}
	return newResourceManager(n.cfg.Params, n.opts.registerer != nil)
}

// newHost builds the libp2p host listening on listen. On error the host
// owns nothing: rm and cm are closed.
func (n *Node) newHost(key crypto.PrivKey, listen []ma.Multiaddr, rm network.ResourceManager, cm connmgr.ConnManager) (host.Host, error) {
	lopts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrs(listen...),
		libp2p.Transport(quic.NewTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
	}
	if !n.opts.quicOnly {
		lopts = append(lopts, libp2p.Transport(tcp.NewTCPTransport))
	}
	if len(listen) == 0 {
		lopts = append(lopts, libp2p.NoListenAddrs)
	}
	if n.cfg.Role != RoleDevice {
		// Providers and clones are servers in the cloud. Without this, kad
		// ModeAuto and AutoNAT keep small networks client-only ("failed to
		// find any peer in table").
		lopts = append(lopts, libp2p.ForceReachabilityPublic())
		if !n.opts.quicOnly {
			// Cloud to cloud, TCP first (dialrank.go). SwarmOpts replaces
			// earlier swarm options: nothing else here sets any.
			lopts = append(lopts, libp2p.SwarmOpts(swarm.WithDialRanker(preferTCP)))
		}
	}
	if n.opts.registerer != nil {
		lopts = append(lopts, libp2p.PrometheusRegisterer(n.opts.registerer))
	} else {
		lopts = append(lopts, libp2p.DisableMetrics())
	}
	lopts = append(lopts, n.opts.libp2pOpts...)
	h, err := libp2p.New(lopts...)
	if err != nil {
		rm.Close()
		_ = cm.Close()
		return nil, err
	}
	return h, nil
}

func (n *Node) startDHT() error {
	mode := kaddht.ModeServer
	if n.cfg.Role == RoleDevice {
		mode = kaddht.ModeClient
	}
	kopts := []kaddht.Option{
		kaddht.Mode(mode),
		kaddht.ProtocolPrefix(ProtocolPrefix),
		kaddht.NamespacedValidator(dht.Namespace, dht.NewValidator(n.opts.now)),
		// DHT records held for others survive a restart of this node.
		kaddht.Datastore(n.kadStore()),
		kaddht.BootstrapPeers(n.cfg.Bootstrap...),
	}
	kopts = append(kopts, n.opts.kadOpts...)
	kad, err := kaddht.New(n.host, kopts...)
	if err != nil {
		return fmt.Errorf("node: kad-dht: %w", err)
	}
	n.kad = kad
	n.closers = append(n.closers, kad.Close)
	return nil
}

// kadStore is where kad-dht keeps the records peers put to this node.
func (n *Node) kadStore() datastore.Batching {
	return namespace.Wrap(n.ds, datastore.NewKey("/kad"))
}

func (n *Node) startPubSub(ctx context.Context) error {
	// gossipsub has no Close: it stops when its context ends. It gets its
	// own context, cancelled after the directory (which leaves its topic on
	// Close) is closed.
	ctx, cancel := context.WithCancel(ctx)
	decay := time.Second
	gopts := netproto.GossipOptions()
	if hb := n.cfg.Params.GossipHeartbeat; hb > 0 {
		gp := netproto.GossipParams()
		gp.HeartbeatInterval = hb
		gopts = append(gopts, pubsub.WithGossipSubParams(gp))
		decay = max(decay, hb)
	}
	// Unsigned, content-addressed messages with room for a busy
	// sequencer's subscription list (netproto.GossipOptions).
	gopts = append(gopts, n.opts.psOpts...)
	ps, err := pubsub.NewGossipSub(ctx, n.host, append(gopts,
		// Room for the largest CloneDoc entry (a 1 MiB body plus its
		// envelope, hashes and signatures); gossipsub's default is 1 MiB.
		pubsub.WithMaxMessageSize(GossipMaxMessageBytes),
		// Scoring makes a validator's rejection cost the sender: services
		// set per-topic weights (netproto.ScoreTopic), and a peer that keeps
		// sending invalid messages drops below these thresholds and is
		// first ignored, then graylisted. IP colocation is not penalized:
		// many clones share a provider's address.
		pubsub.WithPeerScore(&pubsub.PeerScoreParams{
			Topics:           map[string]*pubsub.TopicScoreParams{},
			AppSpecificScore: func(peer.ID) float64 { return 0 },
			DecayInterval:    decay,
			DecayToZero:      0.01,
			RetainScore:      10 * time.Minute,
		}, &pubsub.PeerScoreThresholds{
			GossipThreshold:   -500,
			PublishThreshold:  -1000,
			GraylistThreshold: -2500,
		}),
		// Its reports let the reconnect watcher hold a returning peer's
		// new connection until gossipsub has dropped the dead one's stream.
		n.reconnect.Gossip(),
	)...)
	if err != nil {
		cancel()
		return fmt.Errorf("node: gossipsub: %w", err)
	}
	n.ps = ps
	n.closers = append(n.closers, func() error { cancel(); return nil })
	return nil
}

func (n *Node) startDirectory() error {
	dopts := []dht.Option{
		dht.WithStore(namespace.Wrap(n.ds, datastore.NewKey("/dir"))),
		dht.WithClock(n.opts.now),
		dht.WithLogger(n.log),
	}
	// The bootstrap peers are providers: clones ask them when the DHT path
	// fails, and a provider pulls their replicas as soon as it joins
	// instead of waiting to see them on the gossip topic.
	ids := make([]peer.ID, 0, len(n.cfg.Bootstrap))
	for _, b := range n.cfg.Bootstrap {
		ids = append(ids, b.ID)
	}
	dopts = append(dopts, dht.WithProviders(ids...))
	if n.cfg.Role == RoleProvider {
		dopts = append(dopts, dht.WithReplica(), dht.WithKadStore(n.kadStore()))
	}
	dopts = append(dopts, n.opts.dirOpts...)
	dir, err := dht.New(n.host, n.kad, n.ps, dopts...)
	if err != nil {
		return fmt.Errorf("node: directory: %w", err)
	}
	n.dir = dir
	n.closers = append(n.closers, dir.Close)
	return nil
}

// Close stops the node: background loops first, then the directory, the
// DHT, the host (with its resource and connection managers) and the
// datastore. It is idempotent and safe to call concurrently.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.closeAll() })
	return n.closeErr
}

func (n *Node) closeAll() error {
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	n.closers = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("node: close: %w", err)
	}
	return nil
}

// ID is the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Role is the node's role.
func (n *Node) Role() Role { return n.cfg.Role }

// Bootstrap are the providers the node joins through (a clone's first is
// its own provider, whose scanner it asks).
func (n *Node) Bootstrap() []peer.AddrInfo { return n.cfg.Bootstrap }

// Host is the libp2p host, for services that register stream handlers.
func (n *Node) Host() host.Host { return n.host }

// DHT is the private kad-dht.
func (n *Node) DHT() *kaddht.IpfsDHT { return n.kad }

// PubSub is the gossipsub router (unsigned, content-addressed messages: netproto.GossipOptions).
func (n *Node) PubSub() *pubsub.PubSub { return n.ps }

// Directory is the signed-record directory on this node.
func (n *Node) Directory() *dht.Directory { return n.dir }

// Datastore is the node's datastore; services namespace their keys in it.
func (n *Node) Datastore() datastore.Batching { return n.ds }

// Joined is closed once the node is connected to at least one configured
// provider and has a peer in its DHT routing table, i.e. DHT operations can
// proceed (at once for a provider with no other providers configured).
func (n *Node) Joined() <-chan struct{} { return n.boot.Joined() }

// AddrInfo is the node's peer ID with its listen addresses.
func (n *Node) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
}

// P2PAddrs are the node's listen addresses with /p2p/<id> appended, the
// form `--bootstrap` takes.
func (n *Node) P2PAddrs() []ma.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}
