package dht

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/clone2clone/c2c/internal/simquic"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/marcopolo/simnet"
)

// simCluster is a set of directory nodes on go-libp2p's simulated network.
// Tests run it inside testing/synctest, so time is virtual.
type simCluster struct {
	t     testing.TB
	net   *simnet.Simnet
	link  simnet.NodeBiDiLinkSettings
	nodes []*simNode
	// gossip: build gossipsub on every node.
	gossip bool
	// kadOpts are extra kad-dht options for every node.
	kadOpts []kaddht.Option
	// kadStores: give every replica its kad-dht value store (WithKadStore),
	// as node does for providers.
	kadStores bool
}

type simNode struct {
	h      host.Host
	kad    *kaddht.IpfsDHT
	ps     *pubsub.PubSub
	dir    *Directory
	values ds.Batching // kad-dht's value store, so tests can cut the DHT path
	cancel context.CancelFunc
	runEnd chan struct{}
	closed bool
}

// newSimCluster starts a simulated network whose packets take oneWay to
// cross it (simnet's router adds LatencyFunc once per packet; the links
// only model bandwidth).
func newSimCluster(t testing.TB, oneWay time.Duration, gossip bool) *simCluster {
	c := &simCluster{
		t:   t,
		net: &simnet.Simnet{LatencyFunc: simnet.StaticLatency(oneWay)},
		link: simnet.NodeBiDiLinkSettings{
			Downlink: simnet.LinkSettings{BitsPerSecond: 100 * simquic.OneMbps},
			Uplink:   simnet.LinkSettings{BitsPerSecond: 100 * simquic.OneMbps},
		},
		gossip: gossip,
	}
	c.net.Start()
	return c
}

// addNode starts a host, kad-dht (server mode, "/c2c", our validator),
// optionally gossipsub, and a Directory; it connects to bootstrap.
func (c *simCluster) addNode(bootstrap []peer.ID, opts ...Option) *simNode {
	t := c.t
	t.Helper()
	idx := len(c.nodes)
	h, err := libp2p.New(
		libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", simnet.IntToPublicIPv4(idx))),
		simquic.Transport(c.net, c.link),
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.ResourceManager(&network.NullResourceManager{}),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &simNode{h: h, cancel: cancel, values: dssync.MutexWrap(ds.NewMapDatastore())}
	var boot []peer.AddrInfo
	for _, id := range bootstrap {
		boot = append(boot, c.byID(id).info())
	}
	kopts := append([]kaddht.Option{
		kaddht.Mode(kaddht.ModeServer),
		kaddht.ProtocolPrefix("/c2c"),
		kaddht.NamespacedValidator(Namespace, NewValidator(time.Now)),
		kaddht.ValueDatastore(n.values),
		kaddht.DisableProviders(),
		kaddht.BootstrapPeers(boot...),
	}, c.kadOpts...)
	if n.kad, err = kaddht.New(h, kopts...); err != nil {
		t.Fatal(err)
	}
	if c.gossip {
		if n.ps, err = pubsub.NewGossipSub(ctx, h, pubsub.WithMessageSignaturePolicy(pubsub.StrictSign)); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range boot {
		if err := h.Connect(ctx, b); err != nil {
			t.Fatalf("connect to bootstrap %s: %v", b.ID, err)
		}
	}
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	if c.kadStores {
		opts = append(opts, WithKadStore(n.values))
	}
	if n.dir, err = New(h, n.kad, n.ps, opts...); err != nil {
		t.Fatal(err)
	}
	c.nodes = append(c.nodes, n)
	return n
}

func (n *simNode) info() peer.AddrInfo { return peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()} }

func (c *simCluster) byID(id peer.ID) *simNode {
	for _, n := range c.nodes {
		if n.h.ID() == id {
			return n
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

// run starts the node's Directory.Run.
func (n *simNode) run() {
	n.runEnd = make(chan struct{})
	go func() {
		defer close(n.runEnd)
		n.dir.Run(context.Background())
	}()
}

// stop shuts the node down: directory, DHT, pubsub, host.
func (n *simNode) stop() {
	if n.closed {
		return
	}
	n.closed = true
	_ = n.dir.Close()
	if n.runEnd != nil {
		<-n.runEnd
	}
	n.cancel()
	_ = n.h.Close()
	_ = n.kad.Close()
}

// cutDHT deletes every value record from the node's kad-dht store, so the
// DHT path has nothing to return.
func (n *simNode) cutDHT(t testing.TB) int {
	t.Helper()
	ctx := context.Background()
	res, err := n.values.Query(ctx, dsq.Query{KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := n.values.Delete(ctx, ds.NewKey(e.Key)); err != nil {
			t.Fatal(err)
		}
	}
	return len(entries)
}

func (c *simCluster) close() {
	for i := len(c.nodes) - 1; i >= 0; i-- {
		c.nodes[i].stop()
	}
	c.net.Close()
}

// waitFor polls cond in virtual time (under synctest a sleep costs no real
// time and no real-time race is involved) and fails after limit.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out (virtual %v) waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func dsqAll() dsq.Query { return dsq.Query{} }

func newMemStore() ds.Batching { return dssync.MutexWrap(ds.NewMapDatastore()) }

// waitRoutingTables waits (in virtual time) until every node's kad-dht
// routing table holds a peer.
func waitRoutingTables(t testing.TB, nodes ...*simNode) {
	t.Helper()
	for _, n := range nodes {
		for i := 0; n.kad.RoutingTable().Size() == 0; i++ {
			if i == 600 {
				t.Fatalf("%s: empty routing table after a minute", n.h.ID())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
