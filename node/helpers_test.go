package node

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/internal/simquic"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/marcopolo/simnet"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func memDatastore() datastore.Batching { return dssync.MutexWrap(datastore.NewMapDatastore()) }

// enrollClone writes what `c2c enroll` writes into a clone's data dir: the
// identity, the HPKE key and an owner certificate signed by user.
func enrollClone(t testing.TB, dir string, user crypto.PrivKey, device string) *dht.OwnerCert {
	t.Helper()
	key, _, err := keystore.LoadOrCreatePrivKey(filepath.Join(dir, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	_, pub, _, err := keystore.LoadOrCreateHPKEKey(filepath.Join(dir, HPKEKeyFile), dht.GenerateHPKEKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := dht.SignOwnerCert(user, dht.OwnerCert{
		Device: device, DeviceKey: id, Clone: id, CloneHPKE: pub,
		Seq: 1, EOL: time.Now().Add(365 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteOwnerCert(dir, cert); err != nil {
		t.Fatal(err)
	}
	return cert
}

func userKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, err := dht.GenerateUserKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// simNet runs nodes on go-libp2p's simulated network; use it inside
// synctest.Test so time is virtual.
type simNet struct {
	t    *testing.T
	sn   *simnet.Simnet
	link simnet.NodeBiDiLinkSettings
}

func newSimNet(t *testing.T) *simNet {
	sn := &simnet.Simnet{LatencyFunc: simnet.StaticLatency(10 * time.Millisecond)}
	sn.Start()
	t.Cleanup(sn.Close)
	return &simNet{t: t, sn: sn, link: simnet.NodeBiDiLinkSettings{
		Downlink: simnet.LinkSettings{BitsPerSecond: 100 * simquic.OneMbps},
		Uplink:   simnet.LinkSettings{BitsPerSecond: 100 * simquic.OneMbps},
	}}
}

// start builds a node of role on the simulated IP ip. The node is closed at
// the end of the test (Close is idempotent, so tests may close it earlier).
func (s *simNet) start(role Role, dir, ip string, boot []peer.AddrInfo, ds datastore.Batching) *Node {
	s.t.Helper()
	return s.startWith(role, dir, ip, boot, ds, func(*Params) {})
}

// startWith is start with the role's default Params changed by tune, and
// more options.
func (s *simNet) startWith(role Role, dir, ip string, boot []peer.AddrInfo, ds datastore.Batching, tune func(*Params), more ...Option) *Node {
	s.t.Helper()
	cfg := DefaultConfig(role, dir)
	tune(&cfg.Params)
	cfg.ListenAddrs = []ma.Multiaddr{ma.StringCast("/ip4/" + ip + "/udp/8000/quic-v1")}
	cfg.Bootstrap = boot
	opts := []Option{
		WithLogger(quietLogger()),
		WithRand(func() float64 { return 0.5 }), // no jitter: exact backoff schedule
		WithLibp2pOptions(
			simquic.Transport(s.sn, s.link),
			// identify's address discovery stalls synctest (see go-libp2p x/simlibp2p)
			libp2p.DisableIdentifyAddressDiscovery(),
		),
	}
	if ds != nil {
		opts = append(opts, WithDatastore(ds))
	}
	opts = append(opts, more...)
	n, err := New(context.Background(), cfg, opts...)
	if err != nil {
		s.t.Fatalf("start %s at %s: %v", role, ip, err)
	}
	s.t.Cleanup(func() { n.Close() })
	return n
}

// waitConnectedness waits (in virtual time under synctest) until n's
// connectedness to p is want, or fails the test after limit.
func waitConnectedness(t *testing.T, n *Node, p peer.ID, want network.Connectedness, limit time.Duration) {
	t.Helper()
	sub, err := n.Host().EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	deadline := time.After(limit)
	for n.Host().Network().Connectedness(p) != want {
		select {
		case <-sub.Out():
		case <-deadline:
			t.Fatalf("%s: connectedness to %s not %v after %v", n.ID(), p, want, limit)
		}
	}
}

func waitClosed(t *testing.T, what string, ch <-chan struct{}, limit time.Duration) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(limit):
		t.Fatalf("%s: not done after %v", what, limit)
	}
}

// enrollID is the peer ID of a fresh key.
func enrollID(t testing.TB) peer.ID {
	t.Helper()
	id, err := peer.IDFromPrivateKey(userKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// metricValue reads a counter's or gauge's current value.
func metricValue(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	if out.Counter != nil {
		return out.Counter.GetValue()
	}
	return out.Gauge.GetValue()
}
