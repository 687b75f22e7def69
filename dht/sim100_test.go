package dht

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestSimLookupLatency100 measures directory lookup latency in a 100-node
// simulated network (3 providers + 97 clones, DHT + gossipsub, 20 ms
// one-way links) in virtual time, over the DHT path and over the replica
// fallback. It is a measurement, not a default test (about a minute of
// real time): run it with
//
//	C2C_SIM100=1 go test -run TestSimLookupLatency100 -v ./dht
func TestSimLookupLatency100(t *testing.T) {
	if os.Getenv("C2C_SIM100") != "1" || testing.Short() {
		t.Skip("set C2C_SIM100=1 to run the 100-node measurement")
	}
	const nodes, providers, lookups = 100, 3, 300
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newSimCluster(t, 20*time.Millisecond, true)
		defer c.close()
		var provIDs []peer.ID
		for range providers {
			n := c.addNode(provIDs, WithReplica(), WithProviders(provIDs...))
			provIDs = append(provIDs, n.h.ID())
		}
		for i, id := range provIDs { // every provider syncs with the others
			c.nodes[i].dir.opts.providers = slices.DeleteFunc(slices.Clone(provIDs), func(p peer.ID) bool { return p == id })
			c.nodes[i].run()
		}
		type clone struct {
			n    *simNode
			user peer.ID
		}
		var clones []clone
		var keys []crypto.PrivKey
		for range nodes - providers {
			n := c.addNode(provIDs, WithProviders(provIDs...))
			k, _ := GenerateUserKey()
			id, _ := peer.IDFromPrivateKey(k)
			clones = append(clones, clone{n, id})
			keys = append(keys, k)
		}
		time.Sleep(10 * time.Second)
		eol := time.Now().Add(30 * 24 * time.Hour)
		for i, cl := range clones {
			_, hpkePub, _ := GenerateHPKEKey()
			cert, err := SignOwnerCert(keys[i], OwnerCert{Device: "phone", DeviceKey: seededID(t, uint64(i)), Clone: cl.n.h.ID(),
				CloneHPKE: hpkePub, Addrs: cl.n.h.Addrs(), Seq: 1, EOL: eol})
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.n.dir.Publish(ctx, cert); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
		for i := range providers {
			waitFor(t, time.Minute, "replicas", func() bool { return c.nodes[i].dir.Stats().Records == len(clones) })
		}
		rng := rand.New(rand.NewPCG(1, 2))
		measure := func(path string) []time.Duration {
			var lat []time.Duration
			for range lookups {
				a, b := rng.IntN(len(clones)), rng.IntN(len(clones))
				for a == b {
					b = rng.IntN(len(clones))
				}
				start := time.Now()
				cert, err := clones[a].n.dir.Lookup(ctx, clones[b].user, "phone")
				lat = append(lat, time.Since(start))
				if err != nil || cert.Clone != clones[b].n.h.ID() {
					t.Fatalf("%s lookup %d->%d: %v", path, a, b, err)
				}
			}
			slices.Sort(lat)
			t.Logf("%s path: %d lookups, virtual latency p50=%v p99=%v max=%v", path, lookups,
				lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
			return lat
		}
		measure("dht")
		runtime.GC()
		runtime.ReadMemStats(&after)
		t.Logf("heap in use with %d nodes up and %d records published: %.1f MiB (%.2f MiB per node)",
			nodes, len(clones), float64(after.HeapAlloc-before.HeapAlloc)/(1<<20),
			float64(after.HeapAlloc-before.HeapAlloc)/(1<<20)/nodes)
		// kad-dht's GetValue corrects peers that lacked the value with
		// puts it sends after returning; let those land (virtual time)
		// so that none re-fills a store after the cut.
		time.Sleep(10 * time.Second)
		for _, n := range c.nodes {
			n.cutDHT(t)
		}
		measure("replica-fallback (DHT values cut)")
		var viaReplica uint64
		for _, cl := range clones {
			viaReplica += cl.n.dir.Stats().LookupsReplica
		}
		if viaReplica != lookups {
			t.Fatalf("replica lookups %d, want %d", viaReplica, lookups)
		}
	})
}

// BenchmarkReplicaMemoryPerRecord measures what one clone's record costs a
// provider's replica: the heap delta of a replica store (in-memory
// datastore + index) after inserting b.N distinct owner certificates,
// divided by b.N. Connection, peerstore and routing-table state are not
// included (see TestSimLookupLatency100 for whole-node heap).
func BenchmarkReplicaMemoryPerRecord(b *testing.B) {
	ctx := context.Background()
	v := newValidator(fixedClock)
	_, hpkePub, _ := GenerateHPKEKey()
	type rec struct {
		key string
		raw []byte
	}
	recs := make([]rec, b.N)
	for i := range recs {
		k, _ := GenerateUserKey()
		c, err := SignOwnerCert(k, OwnerCert{Device: "phone", DeviceKey: seededID(b, 1), Clone: seededID(b, 2),
			CloneHPKE: hpkePub, Seq: 1, EOL: t0.Add(time.Hour)})
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = rec{c.Key(), mustMarshal(b, c)}
	}
	st, err := openStore(ctx, newMemStore(), v)
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// Clones, so the store owns its bytes and the delta counts them.
	b.ResetTimer()
	for i := range recs {
		if _, err := st.put(ctx, strings.Clone(recs[i].key), bytes.Clone(recs[i].raw), false); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-B/record")
	b.ReportMetric(float64(len(recs[0].raw)), "record-B")
	runtime.KeepAlive(st)
	runtime.KeepAlive(recs)
}
