// Package netsim runs CloneDoc over go-libp2p's simulated network
// (simnet, through internal/simquic) for tests and benchmarks: a sequencer service and
// clone services on real hosts with gossipsub (strict signing), streams and
// datastores, plus an in-memory directory of signed owner certificates
// and network partitions (Partition, Heal: packets between the sides are
// lost). Run it inside testing/synctest so time is virtual.
package netsim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/internal/simquic"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/marcopolo/simnet"
)

// Net is a simulated network of CloneDoc peers.
type Net struct {
	T    testing.TB
	SN   *simnet.Simnet
	Link simnet.NodeBiDiLinkSettings
	Dir  *MemDirectory
	Log  *slog.Logger
	// Scoring builds gossipsub with peer scoring (the services set the
	// per-topic parameters) and records every peer's view of the scores.
	Scoring bool
	// MaxControlBytes is gossipsub's control-message cap on the peers
	// started from now on (0: netproto.GossipMaxControlBytes, as on nodes).
	MaxControlBytes int

	next  int
	peers []*Peer
	cut   partition
}

// Peer is one host with gossipsub and a datastore.
type Peer struct {
	Key    crypto.PrivKey
	IP     string
	H      host.Host
	PS     *pubsub.PubSub
	DS     datastore.Batching
	cancel context.CancelFunc
	closed bool

	scoreMu sync.Mutex
	scores  map[peer.ID]float64
	// stop closes the service running on the peer (set by Start*).
	stop func()
}

// New starts a simulated network whose packets take oneWay to cross it
// (simnet v0.0.7 applies the latency once per packet, on the receiving side).
func New(t testing.TB, oneWay time.Duration) *Net {
	n := &Net{T: t, Dir: NewMemDirectory(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Link: simnet.NodeBiDiLinkSettings{
			Downlink: simnet.LinkSettings{BitsPerSecond: 100 * simquic.OneMbps},
			Uplink:   simnet.LinkSettings{BitsPerSecond: 100 * simquic.OneMbps},
		}}
	sn := &simnet.Simnet{LatencyFunc: n.latency(oneWay)} // partition.go
	sn.Start()
	n.SN = sn
	t.Cleanup(func() {
		for _, p := range n.peers {
			p.Close()
		}
		// gossipsub's announce retries sleep up to 1 s before noticing that
		// their router stopped; let them end inside the synctest bubble.
		time.Sleep(2 * time.Second)
		sn.Close()
	})
	return n
}

// NewLoopback returns a network of real hosts on 127.0.0.1 (QUIC), for
// tests that need real files (pebble) and so cannot run under synctest.
// StartPeer then takes a listen multiaddr instead of an IP.
func NewLoopback(t testing.TB) *Net {
	n := &Net{T: t, Dir: NewMemDirectory(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	t.Cleanup(func() {
		for _, p := range n.peers {
			p.Close()
		}
	})
	return n
}

// NewKey returns a fresh Ed25519 libp2p key.
func NewKey(t testing.TB) crypto.PrivKey {
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// MemDatastore returns a thread-safe in-memory datastore.
func MemDatastore() datastore.Batching { return dssync.MutexWrap(datastore.NewMapDatastore()) }

// AddPeer starts a host with key (nil: a fresh one) and the datastore ds
// (nil: in memory) at the next simulated address.
func (n *Net) AddPeer(key crypto.PrivKey, ds datastore.Batching) *Peer {
	n.next++
	if n.SN == nil {
		return n.StartPeer(key, ds, "/ip4/127.0.0.1/udp/0/quic-v1")
	}
	return n.StartPeer(key, ds, simnet.IntToPublicIPv4(n.next).String())
}

// StartPeer starts a host at ip (restart a peer with its old key and ip).
func (n *Net) StartPeer(key crypto.PrivKey, ds datastore.Batching, ip string) *Peer {
	t := n.T
	t.Helper()
	if key == nil {
		key = NewKey(t)
	}
	if ds == nil {
		ds = MemDatastore()
	}
	var opts []libp2p.Option
	if n.SN != nil {
		opts = []libp2p.Option{ // ip is a simulated IPv4 address
			libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", ip)),
			simquic.Transport(n.SN, n.Link),
			libp2p.DisableIdentifyAddressDiscovery(),
		}
	} else {
		opts = []libp2p.Option{libp2p.ListenAddrStrings(ip)} // a real loopback address
	}
	h, err := libp2p.New(append(opts, libp2p.Identity(key),
		libp2p.ResourceManager(&network.NullResourceManager{}))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Peer{Key: key, IP: ip, H: h, DS: ds, cancel: cancel}
	maxControl := n.MaxControlBytes
	if maxControl == 0 {
		maxControl = netproto.GossipMaxControlBytes // as node sets it
	}
	psOpts := append(netproto.GossipOptions(), pubsub.WithMaxControlMessageSize(maxControl))
	if n.Scoring {
		psOpts = append(psOpts, pubsub.WithPeerScore(&pubsub.PeerScoreParams{
			SkipAtomicValidation: true, Topics: map[string]*pubsub.TopicScoreParams{},
			AppSpecificScore: func(peer.ID) float64 { return 0 },
			DecayInterval:    time.Second, DecayToZero: 0.01,
		}, &pubsub.PeerScoreThresholds{ // low enough that a test's bad peer is never graylisted
			SkipAtomicValidation: true, GossipThreshold: -1e7, PublishThreshold: -2e7, GraylistThreshold: -3e7,
		}), pubsub.WithPeerScoreInspect(func(m map[peer.ID]float64) {
			p.scoreMu.Lock()
			p.scores = m
			p.scoreMu.Unlock()
		}, 100*time.Millisecond))
	}
	ps, err := pubsub.NewGossipSub(ctx, h, psOpts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	p.PS = ps
	n.peers = append(n.peers, p)
	n.Dir.addHost(h)
	return p
}

// Score returns this peer's gossipsub score of other (with Net.Scoring).
func (p *Peer) Score(other peer.ID) float64 {
	p.scoreMu.Lock()
	defer p.scoreMu.Unlock()
	return p.scores[other]
}

// Info is the peer's address info.
func (p *Peer) Info() peer.AddrInfo { return peer.AddrInfo{ID: p.H.ID(), Addrs: p.H.Addrs()} }

// Close stops gossipsub and the host (not the datastore).
func (p *Peer) Close() {
	if p.closed {
		return
	}
	p.closed = true
	p.StopService()
	p.cancel()
	_ = p.H.Close()
}

// StopService closes the service on the peer, if one runs.
func (p *Peer) StopService() {
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
}

// Sequencer is a peer running the sequencer service.
type Sequencer struct {
	*Peer
	Svc *seqservice.Service
}

// AddSequencer starts a sequencer on a new peer.
func (n *Net) AddSequencer(opts ...seqservice.Option) *Sequencer {
	return n.StartSequencer(n.AddPeer(nil, nil), opts...)
}

// StartSequencer starts the sequencer service on p.
func (n *Net) StartSequencer(p *Peer, opts ...seqservice.Option) *Sequencer {
	svc, err := seqservice.New(p.H, p.PS, p.DS, p.Key, append([]seqservice.Option{seqservice.WithLogger(n.Log)}, opts...)...)
	if err != nil {
		n.T.Fatal(err)
	}
	p.stop = func() { _ = svc.Close() }
	return &Sequencer{Peer: p, Svc: svc}
}

// Clone is a peer running the clone docsync service, enrolled in the
// directory as (User, Device).
type Clone struct {
	*Peer
	Svc      *cloneservice.Service
	User     peer.ID
	Device   string
	HPKEPriv []byte
}

// AddClone starts a clone on a new peer and enrolls it in the directory.
func (n *Net) AddClone(opts ...cloneservice.Option) *Clone {
	return n.AddCloneOn(n.AddPeer(nil, nil), opts...)
}

// AddClones starts k clones, each as AddClone does.
func (n *Net) AddClones(k int, opts ...cloneservice.Option) []*Clone {
	clones := make([]*Clone, k)
	for i := range clones {
		clones[i] = n.AddClone(opts...)
	}
	return clones
}

// AddCloneOn enrolls a clone on peer p and starts its service.
func (n *Net) AddCloneOn(p *Peer, opts ...cloneservice.Option) *Clone {
	priv, pub, err := dht.GenerateHPKEKey()
	if err != nil {
		n.T.Fatal(err)
	}
	c := &Clone{Peer: p, HPKEPriv: priv, Device: "phone"}
	c.User = n.Dir.Enroll(n.T, p.H.ID(), pub, c.Device)
	n.StartClone(c, opts...)
	return c
}

// StartClone (re)starts the clone service on c.Peer.
func (n *Net) StartClone(c *Clone, opts ...cloneservice.Option) {
	id, err := cloneservice.IdentityFromKeys(c.Key, c.HPKEPriv)
	if err != nil {
		n.T.Fatal(err)
	}
	// A test network's clones all know each other; tests of the invite
	// policy pass their own (later options win).
	all := append([]cloneservice.Option{cloneservice.WithLogger(n.Log), cloneservice.WithDirectory(n.Dir),
		cloneservice.WithInvitePolicy(cloneservice.AcceptAll)}, opts...)
	svc, err := cloneservice.New(c.H, c.PS, c.DS, id, all...)
	if err != nil {
		n.T.Fatal(err)
	}
	c.Svc = svc
	c.stop = func() { _ = svc.Close() }
}

// Connect connects a's host to b's.
func Connect(t testing.TB, a, b *Peer) {
	t.Helper()
	if err := a.H.Connect(context.Background(), b.Info()); err != nil {
		t.Fatal(err)
	}
}

// WaitUntil polls cond every step (virtual time under synctest) until it
// holds, failing the test after limit.
func WaitUntil(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NewHost starts a bare host (no gossipsub, no datastore) with key at the
// next address, simulated or loopback, closed at cleanup: a device's host.
func (n *Net) NewHost(key crypto.PrivKey) host.Host {
	n.T.Helper()
	addr := "/ip4/127.0.0.1/udp/0/quic-v1"
	opts := []libp2p.Option{libp2p.Identity(key), libp2p.ResourceManager(&network.NullResourceManager{})}
	if n.SN != nil {
		n.next++
		addr = fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", simnet.IntToPublicIPv4(n.next))
		opts = append(opts, simquic.Transport(n.SN, n.Link), libp2p.DisableIdentifyAddressDiscovery())
	}
	h, err := libp2p.New(append(opts, libp2p.ListenAddrStrings(addr))...)
	if err != nil {
		n.T.Fatal(err)
	}
	n.T.Cleanup(func() { h.Close() })
	return h
}
