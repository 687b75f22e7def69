package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/device/server"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/internal/simquic"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/marcopolo/simnet"
)

// deviceIPBase numbers device hosts far from netsim's peers.
const deviceIPBase = 1000

// world is a simulated network whose device links have random per-packet
// delays (seeded), and the devices on it.
type world struct {
	t      testing.TB
	n      *netsim.Net
	mu     sync.Mutex
	rng    *rand.Rand
	dev    int
	devIPs map[string]bool // w.mu
}

func (w *world) isDevice(a net.Addr) bool {
	u, ok := a.(*net.UDPAddr)
	return ok && w.devIPs[u.IP.String()]
}

// newWorld starts the network: oneWay between clones and sequencer,
// uniform [minDelay, maxDelay) on device links.
func newWorld(t testing.TB, seed uint64, oneWay, minDelay, maxDelay time.Duration) *world {
	w := &world{t: t, rng: rand.New(rand.NewPCG(seed, 99)), devIPs: map[string]bool{}}
	sn := &simnet.Simnet{LatencyFunc: func(p *simnet.Packet) time.Duration {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.isDevice(p.From) && !w.isDevice(p.To) {
			return oneWay
		}
		return minDelay + time.Duration(w.rng.Int64N(int64(maxDelay-minDelay)+1))
	}}
	sn.Start()
	w.n = &netsim.Net{T: t, SN: sn, Dir: netsim.NewMemDirectory(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Link: simnet.NodeBiDiLinkSettings{
			Downlink: simnet.LinkSettings{BitsPerSecond: 100 * simquic.OneMbps},
			Uplink:   simnet.LinkSettings{BitsPerSecond: 100 * simquic.OneMbps},
		}}
	t.Cleanup(func() { sn.Close() })
	return w
}

// deviceHost starts a bare host (no DHT, no gossipsub) for a device key.
func (w *world) deviceHost(key crypto.PrivKey) host.Host {
	w.mu.Lock()
	w.dev++
	ip := simnet.IntToPublicIPv4(deviceIPBase + w.dev)
	w.devIPs[ip.String()] = true
	w.mu.Unlock()
	h, err := libp2p.New(libp2p.Identity(key),
		libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", ip)),
		simquic.Transport(w.n.SN, w.n.Link), libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.ResourceManager(&network.NullResourceManager{}))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { h.Close() })
	return h
}

// enrolled is a clone with the device link and one enrolled device.
type enrolled struct {
	clone   *netsim.Clone
	srv     *server.Server
	userKey crypto.PrivKey
	user    peer.ID
	name    string
	devKey  crypto.PrivKey
	cert    *dht.OwnerCert
}

// enroll enrolls device name on clone c (devicetest.Enroll) and serves
// the device link there.
func (w *world) enroll(c *netsim.Clone, name string) *enrolled {
	d := devicetest.Enroll(w.t, w.n, c, name, nil)
	return &enrolled{clone: c, srv: d.Serve(w.t, w.n), userKey: d.UserKey, user: d.User, name: name,
		devKey: d.Key, cert: d.Cert}
}

// device starts the enrolled device's host and client.
func (w *world) device(e *enrolled, opts ...client.Option) (host.Host, *client.Client) {
	h := w.deviceHost(e.devKey)
	c, err := client.New(h, e.clone.Info(), e.user, e.name, append([]client.Option{client.WithLogger(w.n.Log)}, opts...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	return h, c
}

// sequencer and clone start netsim peers closed at cleanup.
func (w *world) sequencer() *netsim.Sequencer {
	s := w.n.AddSequencer()
	w.t.Cleanup(s.Close)
	return s
}

func (w *world) clone(opts ...cloneservice.Option) *netsim.Clone {
	c := w.n.AddClone(opts...)
	w.t.Cleanup(c.Close)
	return c
}
