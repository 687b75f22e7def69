package dht

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p-kad-dht/records"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// TestHostileProviders: the replica fallback survives providers that send
// forged or garbage answers, and the stream handlers survive garbage
// requests. A provider can hide a record, never forge one.
func TestHostileProviders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newSimCluster(t, 20*time.Millisecond, false)
		defer c.close()
		honest := c.addNode(nil, WithReplica())
		forger := c.addNode([]peer.ID{honest.h.ID()})
		junk := c.addNode([]peer.ID{honest.h.ID()})
		client := c.addNode([]peer.ID{honest.h.ID()}, WithProviders(forger.h.ID(), junk.h.ID(), honest.h.ID()))

		alice := seededKey(t, 1)
		good := testCertAt(t, alice, client.h.ID(), 1)
		goodRaw := mustMarshal(t, good)
		if _, err := honest.dir.store.put(ctx, good.Key(), goodRaw, false); err != nil {
			t.Fatal(err)
		}
		// The forger answers with a higher seq that it signed itself
		// (claiming Alice), the junk provider with random bytes.
		forged, err := signCertAs(seededKey(t, 2), OwnerCert{User: good.User, Device: good.Device, DeviceKey: good.DeviceKey,
			Clone: forger.h.ID(), CloneHPKE: good.CloneHPKE, Seq: 99, EOL: good.EOL})
		if err != nil {
			t.Fatal(err)
		}
		answer := func(n *simNode, resp []byte) {
			n.h.SetStreamHandler(GetProtocol, func(s network.Stream) {
				defer s.Close()
				if _, err := readFrame(bufio.NewReader(s), MaxKeySize); err == nil {
					_ = writeFrame(s, resp)
				}
			})
		}
		answer(forger, encodeGetResponse(mustMarshal(t, forged)))
		answer(junk, []byte{getFound, 0xde, 0xad})

		for _, n := range c.nodes {
			n.cutDHT(t)
		}
		got, err := client.dir.Lookup(ctx, good.User, good.Device)
		if err != nil {
			t.Fatalf("lookup: %v", err)
		}
		if got.Clone != client.h.ID() || got.Seq != 1 {
			t.Fatalf("lookup returned the forged record: %+v", got)
		}

		// Garbage requests: an oversized frame header and a truncated frame.
		for _, req := range [][]byte{{0xff, 0xff, 0xff, 0xff}, {0, 0, 0, 9, 'x'}} {
			for _, proto := range []protocol.ID{GetProtocol, SyncProtocol} {
				s, err := client.h.NewStream(ctx, honest.h.ID(), proto)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = s.Write(req)
				_ = s.CloseWrite()
				var buf bytes.Buffer
				_, _ = buf.ReadFrom(s) // the handler resets or closes; it must not crash
				_ = s.Close()
			}
		}
		// The honest provider still serves.
		if raw, err := client.dir.getFrom(ctx, honest.h.ID(), good.Key()); err != nil || !bytes.Equal(raw, goodRaw) {
			t.Fatalf("honest provider after garbage: %v", err)
		}
	})
}

// testCertAt is testCert for a given clone peer ID.
func testCertAt(t testing.TB, user crypto.PrivKey, clone peer.ID, seq uint64) *OwnerCert {
	t.Helper()
	c := *testCert(t, user, "phone", seq, time.Now().Add(time.Hour))
	c.Clone = clone
	signed, err := SignOwnerCert(user, c)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// TestGossipValidator: providers reject invalid gossip (so pubsub scores
// the sender down), ignore stale or known records, accept newer ones.
func TestGossipValidator(t *testing.T) {
	ctx := context.Background()
	v := newValidator(fixedClock)
	st, err := openStore(ctx, newMemStore(), v)
	if err != nil {
		t.Fatal(err)
	}
	d := &Directory{val: v, store: st, opts: options{replica: true}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	alice := seededKey(t, 1)
	seq1 := testCert(t, alice, "phone", 1, t0.Add(time.Hour))
	seq2 := testCert(t, alice, "phone", 2, t0.Add(time.Hour))
	if _, err := st.put(ctx, seq2.Key(), mustMarshal(t, seq2), false); err != nil {
		t.Fatal(err)
	}
	msg := func(key string, raw []byte) *pubsub.Message {
		data, err := encodePair(key, raw)
		if err != nil {
			t.Fatal(err)
		}
		return &pubsub.Message{Message: &pubsubpb.Message{Data: data}}
	}
	forged := mustMarshal(t, seq2)
	forged[len(forged)-1] ^= 1
	seq3 := testCert(t, alice, "phone", 3, t0.Add(time.Hour))
	for _, tc := range []struct {
		name string
		msg  *pubsub.Message
		want pubsub.ValidationResult
	}{
		{"garbage", &pubsub.Message{Message: &pubsubpb.Message{Data: []byte("junk")}}, pubsub.ValidationReject},
		{"forged", msg(seq2.Key(), forged), pubsub.ValidationReject},
		{"replayed lower seq", msg(seq1.Key(), mustMarshal(t, seq1)), pubsub.ValidationIgnore},
		{"already held", msg(seq2.Key(), mustMarshal(t, seq2)), pubsub.ValidationIgnore},
		{"newer", msg(seq3.Key(), mustMarshal(t, seq3)), pubsub.ValidationAccept},
	} {
		if got := d.validateGossip(ctx, "", tc.msg); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestReplicaServesKadPuts: a record a clone put to its provider over
// kad-dht, whose gossip the provider missed (here: there is no gossip), is
// what a device fetching it from that provider gets, and the replica keeps
// it; a forged record in the kad-dht store is refused, not adopted.
func TestReplicaServesKadPuts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newSimCluster(t, 20*time.Millisecond, false)
		c.kadStores = true
		defer c.close()
		p := c.addNode(nil, WithReplica())
		clone := c.addNode([]peer.ID{p.h.ID()})
		device := c.addNode([]peer.ID{p.h.ID()})
		waitRoutingTables(t, p, clone)

		cert := testCertAt(t, seededKey(t, 1), clone.h.ID(), 1)
		if err := clone.kad.PutValue(ctx, cert.Key(), mustMarshal(t, cert)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.dir.store.get(ctx, cert.Key()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the replica already holds the record (%v): the test does not test the kad-dht path", err)
		}
		got, err := FetchCert(ctx, device.h, p.h.ID(), cert.User, cert.Device, time.Now)
		if err != nil || got.Seq != 1 {
			t.Fatalf("fetch of a record put over kad-dht: %v", err)
		}
		if _, err := p.dir.store.get(ctx, cert.Key()); err != nil {
			t.Fatalf("the adopted record was not kept: %v", err)
		}
		if st := p.dir.Stats(); st.KadAdopted != 1 {
			t.Fatalf("adopted %d, want 1", st.KadAdopted)
		}

		// A record stored in the kad-dht store without its validation (as a
		// corrupted disk could) is checked again before it is served.
		bad := testCertAt(t, seededKey(t, 2), clone.h.ID(), 1)
		raw := mustMarshal(t, bad)
		raw[len(raw)-1] ^= 1
		kv := records.NewValueStore(p.values, acceptAll{}, 0)
		if err := kv.Put(ctx, bad.Key(), record.MakePutRecord(bad.Key(), raw)); err != nil {
			t.Fatal(err)
		}
		if _, err := FetchCert(ctx, device.h, p.h.ID(), bad.User, bad.Device, time.Now); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a forged record in the kad-dht store: %v", err)
		}
	})
}

// acceptAll is a validator that lets anything into a kad-dht value store.
type acceptAll struct{}

func (acceptAll) Validate(string, []byte) error        { return nil }
func (acceptAll) Select(string, [][]byte) (int, error) { return 0, nil }

// TestReplicaRepairsAMiss: a provider asked for a record that only another
// provider holds (its gossip was missed) answers from that provider and
// keeps the record; a provider's own repair is not forwarded back, and a
// record nobody holds stays "not found".
func TestReplicaRepairsAMiss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newSimCluster(t, 20*time.Millisecond, false)
		defer c.close()
		a := c.addNode(nil, WithReplica())
		b := c.addNode([]peer.ID{a.h.ID()}, WithReplica(), WithProviders(a.h.ID()))
		a.dir.opts.providers = []peer.ID{b.h.ID()}
		device := c.addNode([]peer.ID{a.h.ID()})
		device.h.Peerstore().AddAddrs(b.h.ID(), b.h.Addrs(), time.Hour)

		alice := seededKey(t, 1)
		cert := testCertAt(t, alice, device.h.ID(), 1)
		if _, err := a.dir.store.put(ctx, cert.Key(), mustMarshal(t, cert), false); err != nil {
			t.Fatal(err)
		}
		got, err := FetchCert(ctx, device.h, b.h.ID(), cert.User, cert.Device, time.Now)
		if err != nil || got.Seq != 1 {
			t.Fatalf("fetch from the provider that missed the gossip: %v", err)
		}
		if _, err := b.dir.store.get(ctx, cert.Key()); err != nil {
			t.Fatalf("the repaired record was not kept: %v", err)
		}
		if st := b.dir.Stats(); st.Repaired != 1 {
			t.Fatalf("repaired %d, want 1", st.Repaired)
		}
		missing := testCertAt(t, seededKey(t, 3), device.h.ID(), 1)
		if _, err := FetchCert(ctx, device.h, b.h.ID(), missing.User, missing.Device, time.Now); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a record nobody holds: %v", err)
		}
		if a.dir.Stats().Repaired != 0 || b.dir.Stats().Repaired != 1 {
			t.Fatalf("repairs a=%d b=%d: a provider's repair was forwarded back", a.dir.Stats().Repaired, b.dir.Stats().Repaired)
		}
	})
}
