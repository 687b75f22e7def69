package dht

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// enrolled is one simulated clone and the user key that enrolled it.
type enrolled struct {
	node   *simNode
	user   crypto.PrivKey
	userID peer.ID
	device string
}

// TestDirectoryMultiNode: 3 providers + 20 clones (10 users x 2 devices; 5
// users under -race, where ThreadSanitizer twice failed inside this long
// bubble: a CHECK in tsan_rtl.cpp and a SIGSEGV in the runtime's timers) on
// the simulated network. Every clone finds every other clone's record and
// connects to it. A third provider joins late and fills its replica by
// anti-entropy only. Then the DHT path is cut (every node's DHT value store
// emptied) and two providers are stopped: lookups still succeed, served by
// the late provider's replica.
func TestDirectoryMultiNode(t *testing.T) {
	if raceEnabled {
		// Go 1.26's race runtime crashes in this bubble (SIGSEGV in
		// runtime.(*timer).maybeRunChan under swarm's dial worker; golang/go#78156)
		// in about 3 runs of 4 on the CI machine, which no retry budget
		// absorbs. go test ./... runs it without -race; the other dht
		// tests on simnet still run under -race.
		t.Skip("the race runtime crashes in this synctest bubble: golang/go#78156")
	}
	synctest.Test(t, func(t *testing.T) {
		users, devicesPerUser := 10, 2
		c := newSimCluster(t, 20*time.Millisecond, true)
		defer c.close()
		ctx := context.Background()

		p0 := c.addNode(nil, WithReplica())
		p1 := c.addNode([]peer.ID{p0.h.ID()}, WithReplica(), WithProviders(p0.h.ID()))
		// p0 has no provider list: it finds p1 as a subscriber of Topic.
		early := []peer.ID{p0.h.ID(), p1.h.ID()}
		p0.run()
		p1.run()

		var clones []enrolled
		for u := range users {
			userKey, err := GenerateUserKey()
			if err != nil {
				t.Fatal(err)
			}
			userID, _ := peer.IDFromPrivateKey(userKey)
			for dv := range devicesPerUser {
				n := c.addNode(early, WithProviders(early...))
				clones = append(clones, enrolled{node: n, user: userKey, userID: userID, device: fmt.Sprintf("dev-%d", dv)})
			}
			_ = u
		}
		// Let the routing tables and gossipsub meshes form.
		time.Sleep(5 * time.Second)

		eol := time.Now().Add(30 * 24 * time.Hour)
		for i, e := range clones {
			_, hpkePub, err := GenerateHPKEKey()
			if err != nil {
				t.Fatal(err)
			}
			devKey, _ := GenerateUserKey()
			devID, _ := peer.IDFromPrivateKey(devKey)
			cert, err := SignOwnerCert(e.user, OwnerCert{Device: e.device, DeviceKey: devID, Clone: e.node.h.ID(),
				CloneHPKE: hpkePub, Addrs: e.node.h.Addrs(), Seq: 1, EOL: eol})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.node.dir.Publish(ctx, cert); err != nil {
				t.Fatalf("clone %d publish: %v", i, err)
			}
			if i%devicesPerUser == 0 {
				idx, err := SignDeviceIndex(e.user, DeviceIndex{Devices: []string{"dev-0", "dev-1"}, Seq: 1, EOL: eol})
				if err != nil {
					t.Fatal(err)
				}
				if err := e.node.dir.PublishIndex(ctx, idx); err != nil {
					t.Fatalf("clone %d publish index: %v", i, err)
				}
			}
		}
		records := users*devicesPerUser + users
		for _, p := range []*simNode{p0, p1} {
			waitFor(t, time.Minute, "gossip to fill the replicas", func() bool { return p.dir.Stats().Records == records })
			if got := p.dir.Stats().GossipStored; got == 0 {
				t.Errorf("provider %s stored nothing from gossip", p.h.ID())
			}
		}

		// Every clone finds every other clone's record and connects to it.
		lookupAll := func(phase string) {
			t.Helper()
			for i, a := range clones {
				for j, b := range clones {
					if i == j {
						continue
					}
					cert, err := a.node.dir.Lookup(ctx, b.userID, b.device)
					if err != nil {
						t.Fatalf("%s: clone %d lookup of clone %d: %v", phase, i, j, err)
					}
					if cert.Clone != b.node.h.ID() || cert.User != b.userID {
						t.Fatalf("%s: clone %d got the wrong record for clone %d", phase, i, j)
					}
				}
			}
		}
		lookupAll("dht")
		for i, a := range clones {
			for j, b := range clones {
				if i == j {
					continue
				}
				ai, err := a.node.dir.Resolve(ctx, b.node.h.ID())
				if err != nil {
					t.Fatalf("clone %d resolve clone %d: %v", i, j, err)
				}
				if err := a.node.h.Connect(ctx, ai); err != nil {
					t.Fatalf("clone %d connect clone %d: %v", i, j, err)
				}
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				res := <-ping.Ping(pctx, a.node.h, b.node.h.ID())
				cancel()
				if res.Error != nil {
					t.Fatalf("clone %d ping clone %d: %v", i, j, res.Error)
				}
			}
		}
		for _, a := range clones {
			idx, err := clones[0].node.dir.Devices(ctx, a.userID)
			if err != nil || len(idx.Devices) != devicesPerUser {
				t.Fatalf("devices of %s: %v %v", a.userID, idx, err)
			}
		}
		var viaDHT uint64
		for _, e := range clones {
			viaDHT += e.node.dir.Stats().LookupsDHT
		}
		if want := uint64(len(clones)*(len(clones)-1) + len(clones)); viaDHT != want {
			t.Fatalf("lookups via DHT = %d, want %d", viaDHT, want)
		}

		// Freshness: a higher seq supersedes; a replayed lower seq is refused
		// by the publisher's store and by the DHT nodes that hold the newer.
		e := clones[0]
		old, err := e.node.dir.Lookup(ctx, e.userID, e.device)
		if err != nil {
			t.Fatal(err)
		}
		next := *old
		next.Seq = 2
		newer, err := SignOwnerCert(e.user, next)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.node.dir.Publish(ctx, newer); err != nil {
			t.Fatalf("publish seq 2: %v", err)
		}
		if err := e.node.dir.Publish(ctx, old); !errors.Is(err, ErrStaleSeq) {
			t.Fatalf("replayed seq 1: got %v, want ErrStaleSeq", err)
		}
		oldRaw := mustMarshal(t, old)
		_ = clones[5].node.kad.PutValue(ctx, old.Key(), oldRaw) // a replay through another node
		for _, r := range []enrolled{clones[3], clones[len(clones)/2+1], clones[len(clones)-3]} {
			got, err := r.node.dir.Lookup(ctx, e.userID, e.device)
			if err != nil || got.Seq != 2 {
				t.Fatalf("after the replay a lookup returned %v, %v; want seq 2", got, err)
			}
		}
		for _, p := range []*simNode{p0, p1} {
			waitFor(t, time.Minute, "seq 2 to reach the replicas", func() bool {
				raw, err := p.dir.store.get(ctx, old.Key())
				c, _ := UnmarshalOwnerCert(raw)
				return err == nil && c.Seq == 2
			})
		}

		// A third provider joins now: it missed all the gossip and gets the
		// replica by anti-entropy from p0 and p1.
		p2 := c.addNode(early, WithReplica(), WithProviders(early...))
		p2.run()
		waitFor(t, time.Minute, "anti-entropy to fill the late provider", func() bool { return p2.dir.Stats().Records == records })
		if st := p2.dir.Stats(); st.SyncPulled != uint64(records) || st.GossipStored != 0 {
			t.Fatalf("late provider: pulled %d by sync, %d by gossip; want %d and 0", st.SyncPulled, st.GossipStored, records)
		}
		// Clones were configured with p0 and p1 only; they learn of p2 as
		// a subscriber of the record topic.
		for _, e := range clones {
			waitFor(t, time.Minute, "clones to see the late provider", func() bool {
				return slices.Contains(e.node.dir.replicaPeers(), p2.h.ID())
			})
		}

		// Cut the DHT path: empty every DHT value store and stop p0 and p1.
		cut := 0
		for _, n := range c.nodes {
			cut += n.cutDHT(t)
		}
		if cut == 0 {
			t.Fatal("no DHT records to cut")
		}
		p0.stop()
		p1.stop()
		if _, err := clones[0].node.kad.GetValue(ctx, CertKey(clones[1].userID, clones[1].device)); err == nil {
			t.Fatal("DHT still returns a record after the cut")
		}
		lookupAll("replica")
		var viaReplica uint64
		for _, e := range clones {
			viaReplica += e.node.dir.Stats().LookupsReplica
		}
		if want := uint64(len(clones) * (len(clones) - 1)); viaReplica != want {
			t.Fatalf("lookups via replica = %d, want %d", viaReplica, want)
		}
		if served := p2.dir.Stats().GetServed; served < uint64(len(clones)*(len(clones)-1)) {
			t.Fatalf("late provider served %d gets", served)
		}

		// A record nobody published is not found, with ErrNotFound.
		stranger := seededID(t, 77)
		if _, err := clones[0].node.dir.Lookup(ctx, stranger, "phone"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown record: %v", err)
		}
	})
}
