package node

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A clone boots, joins through its provider by itself and publishes its
// owner certificate; another clone finds it through the directory.
func TestSimClonesJoinPublishAndFindEachOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSimNet(t)
		prov := s.start(RoleProvider, t.TempDir(), "1.0.0.1", nil, memDatastore())
		boot := []peer.AddrInfo{prov.AddrInfo()}

		user := userKey(t)
		dirA, dirB := t.TempDir(), t.TempDir()
		certA := enrollClone(t, dirA, user, "phone")
		certB := enrollClone(t, dirB, user, "laptop")
		a := s.start(RoleClone, dirA, "1.0.0.2", boot, memDatastore())
		b := s.start(RoleClone, dirB, "1.0.0.3", boot, memDatastore())
		waitClosed(t, "clone A published", a.Published(), time.Minute)
		waitClosed(t, "clone B published", b.Published(), time.Minute)

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		got, err := b.Directory().Lookup(ctx, certA.User, "phone")
		if err != nil {
			t.Fatalf("B looks up A: %v", err)
		}
		if got.Clone != a.ID() || got.Seq != certA.Seq {
			t.Fatalf("B found clone %s seq %d, want %s seq %d", got.Clone, got.Seq, a.ID(), certA.Seq)
		}
		got, err = prov.Directory().Lookup(ctx, certB.User, "laptop")
		if err != nil || got.Clone != b.ID() {
			t.Fatalf("provider looks up B: %v %v", got, err)
		}
		if c := metricValue(t, a.metrics.publishes.WithLabelValues("ok")); c != 1 {
			t.Fatalf("clone A counted %v successful publications, want 1", c)
		}
	})
}

// The provider goes away for a while and comes back with the same identity
// and address: the clone re-dials it with backoff, by itself, and is back in
// its routing table.
func TestSimProviderRestartCloneRejoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSimNet(t)
		provDir, provDS := t.TempDir(), memDatastore()
		prov := s.start(RoleProvider, provDir, "1.0.0.1", nil, provDS)
		provID := prov.ID()
		boot := []peer.AddrInfo{prov.AddrInfo()}

		cloneDir := t.TempDir()
		cert := enrollClone(t, cloneDir, userKey(t), "phone")
		clone := s.start(RoleClone, cloneDir, "1.0.0.2", boot, memDatastore())
		waitClosed(t, "clone published", clone.Published(), time.Minute)

		if err := prov.Close(); err != nil {
			t.Fatalf("close provider: %v", err)
		}
		waitConnectedness(t, clone, provID, network.NotConnected, time.Minute)
		// The provider stays down for 20 s of virtual time; the clone keeps
		// re-dialing it meanwhile (and failing).
		failedBefore := metricValue(t, clone.metrics.bootstrapDials.WithLabelValues("error"))
		time.Sleep(20 * time.Second)
		failedDuring := metricValue(t, clone.metrics.bootstrapDials.WithLabelValues("error")) - failedBefore
		if failedDuring < 1 {
			t.Fatalf("clone made %v failed dials while the provider was down, want retries", failedDuring)
		}
		// Backoff, not a hot loop: 20 s at 0.5 s doubling to 30 s is a handful.
		if failedDuring > 8 {
			t.Fatalf("clone made %v dials in 20 s: backoff not applied", failedDuring)
		}

		prov2 := s.start(RoleProvider, provDir, "1.0.0.1", nil, provDS)
		if prov2.ID() != provID {
			t.Fatalf("restarted provider has ID %s, want %s", prov2.ID(), provID)
		}
		// Within the backoff cap (30 s) plus the dial, the clone is back.
		waitConnectedness(t, clone, provID, network.Connected, time.Minute)
		deadline := time.Now().Add(time.Minute)
		for clone.DHT().RoutingTable().Find(provID) == "" {
			if time.Now().After(deadline) {
				t.Fatal("provider not back in the clone's routing table")
			}
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait() // let the bootstrapper's loop settle before reading its gauge
		if g := metricValue(t, clone.metrics.connectedProviders); g != 1 {
			t.Fatalf("connected_providers gauge = %v, want 1", g)
		}
		// The restarted provider kept the DHT record (same datastore).
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		got, err := prov2.Directory().Lookup(ctx, cert.User, "phone")
		if err != nil || got.Clone != clone.ID() {
			t.Fatalf("restarted provider looks up the clone: %v %v", got, err)
		}
	})
}

// A clone that was never enrolled, or whose certificate names another
// clone, refuses to start.
func TestCloneRefusesWithoutMatchingCert(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig(RoleClone, dir)
	cfg.ListenAddrs = LoopbackListenAddrs()
	// Never dialed: the certificate check comes before the network.
	cfg.Bootstrap = []peer.AddrInfo{{ID: enrollID(t), Addrs: cfg.ListenAddrs}}
	_, err := New(context.Background(), cfg, WithLogger(quietLogger()), WithDatastore(memDatastore()))
	if !errors.Is(err, ErrNoOwnerCert) {
		t.Fatalf("unenrolled clone: got %v, want ErrNoOwnerCert", err)
	}

	other := t.TempDir()
	cert := enrollClone(t, other, userKey(t), "phone")
	if err := WriteOwnerCert(dir, cert); err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), cfg, WithLogger(quietLogger()), WithDatastore(memDatastore()))
	if !errors.Is(err, ErrCertMismatch) {
		t.Fatalf("someone else's certificate: got %v, want ErrCertMismatch", err)
	}

	// Its own certificate, but expired by the node's clock.
	own := enrollClone(t, dir, userKey(t), "phone")
	later := func() time.Time { return own.EOL.Add(time.Hour) }
	_, err = New(context.Background(), cfg, WithLogger(quietLogger()), WithDatastore(memDatastore()), WithClock(later))
	if !errors.Is(err, dht.ErrExpired) {
		t.Fatalf("expired certificate: got %v, want dht.ErrExpired", err)
	}
}
