package node

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// With IdleConnTimeout a clone closes its provider connection once
// nothing uses it, keeps the one to a peer it shares a document topic
// with for as long as they share it, and still looks records up: its
// provider stays in its routing table and is dialed again on demand.
func TestSimIdleConnectionsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSimNet(t)
		prov := s.start(RoleProvider, t.TempDir(), "1.0.0.1", nil, memDatastore())
		boot := []peer.AddrInfo{prov.AddrInfo()}
		user := userKey(t)
		dirA, dirB := t.TempDir(), t.TempDir()
		enrollClone(t, dirA, user, "phone")
		certB := enrollClone(t, dirB, user, "laptop")
		lazy := func(p *Params) { p.IdleConnTimeout = time.Minute }
		// As a provider hosts them (clonehost.NodeOptions): DHT clients
		// with no table refresh of their own.
		hosted := WithKadOptions(kaddht.Mode(kaddht.ModeClient), kaddht.DisableAutoRefresh())
		a := s.startWith(RoleClone, dirA, "1.0.0.2", boot, memDatastore(), lazy, hosted)
		b := s.startWith(RoleClone, dirB, "1.0.0.3", boot, memDatastore(), lazy, hosted)
		waitClosed(t, "clone A published", a.Published(), time.Minute)
		waitClosed(t, "clone B published", b.Published(), time.Minute)

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := a.Host().Connect(ctx, b.AddrInfo()); err != nil {
			t.Fatal(err)
		}
		var subs []func()
		for _, n := range []*Node{a, b} {
			topic, err := n.PubSub().Join("doc-test")
			if err != nil {
				t.Fatal(err)
			}
			sub, err := topic.Subscribe()
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, func() { sub.Cancel(); _ = topic.Close() })
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if c := a.Host().Network().Connectedness(prov.ID()); c == network.Connected {
			for _, c := range a.Host().Network().ConnsToPeer(prov.ID()) {
				t.Logf("connection %v, opened %v ago, %d streams", c.Stat().Direction, time.Since(c.Stat().Opened), len(c.GetStreams()))
			}
			t.Fatal("clone A still connected to its provider after 3 idle minutes")
		}
		if a.DHT().RoutingTable().Find(prov.ID()) == "" {
			t.Fatal("the provider left clone A's routing table with its connection")
		}
		if c := a.Host().Network().Connectedness(b.ID()); c != network.Connected {
			t.Fatalf("clone A dropped clone B, a member of its document topic: %v", c)
		}
		if n := metricValue(t, a.metrics.idleConnsClosed); n < 1 {
			t.Fatalf("idle_conns_closed_total = %v, want at least 1", n)
		}

		subs[1]() // B leaves the document: nothing keeps A and B connected
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if c := a.Host().Network().Connectedness(b.ID()); c == network.Connected {
			t.Fatal("clone A still connected to B 3 minutes after they stopped sharing a topic")
		}
		got, err := a.Directory().Lookup(ctx, certB.User, "laptop")
		if err != nil || got.Clone != b.ID() {
			t.Fatalf("idle clone A looks up B: %v, %v", got, err)
		}
		subs[0]()
	})
}
