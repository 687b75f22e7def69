package dht

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	recpb "github.com/libp2p/go-libp2p-record/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// TestRepublishBeforeRecordAge: kad-dht nodes drop a value 48 h after they
// received it. A clone running Directory.Run republishes every 12 h, so its
// record is still found at 49 h and every stored copy is younger than the
// republish interval; the record of a clone that does not run the loop is
// gone by then. Time is virtual (synctest).
func TestRepublishBeforeRecordAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newSimCluster(t, 20*time.Millisecond, false)
		c.kadOpts = []kaddht.Option{kaddht.DisableAutoRefresh()}
		defer c.close()

		p := c.addNode(nil)
		boot := []peer.ID{p.h.ID()}
		live := c.addNode(boot)  // runs the republish loop
		stale := c.addNode(boot) // publishes once, no loop
		reader := c.addNode(boot)
		time.Sleep(5 * time.Second)

		eol := time.Now().Add(30 * 24 * time.Hour)
		publish := func(n *simNode, device string) {
			_, hpkePub, _ := GenerateHPKEKey()
			user, _ := GenerateUserKey()
			cert, err := SignOwnerCert(user, OwnerCert{Device: device, DeviceKey: seededID(t, 5), Clone: n.h.ID(),
				CloneHPKE: hpkePub, Seq: 1, EOL: eol})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.dir.Publish(ctx, cert); err != nil {
				t.Fatalf("publish: %v", err)
			}
		}
		publish(live, "live")
		publish(stale, "stale")
		liveUser := mustLookupUser(t, live, "live")
		staleUser := mustLookupUser(t, stale, "stale")
		start := time.Now()
		live.run()

		time.Sleep(MaxRecordAge + time.Hour)

		if _, err := reader.dir.Lookup(ctx, staleUser, "stale"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a record nobody republished is still found after %v: %v", time.Since(start), err)
		}
		cert, err := reader.dir.Lookup(ctx, liveUser, "live")
		if err != nil {
			t.Fatalf("republished record not found after %v: %v", time.Since(start), err)
		}
		if cert.Clone != live.h.ID() {
			t.Fatal("wrong record")
		}
		st := live.dir.Stats()
		// Republished at 0, 12, 24, 36 and 48 h.
		if st.Republished != 5 || st.RepublishFailed != 0 {
			t.Fatalf("republished %d times (%d failed), want 5", st.Republished, st.RepublishFailed)
		}
		// Every DHT copy of the live record was received less than one
		// republish interval ago.
		key := CertKey(liveUser, "live")
		copies := 0
		for _, n := range c.nodes {
			age, ok := storedAge(t, n, key)
			if !ok {
				continue
			}
			copies++
			if age >= DefaultParams().RepublishInterval {
				t.Errorf("copy on %s is %v old", n.h.ID(), age)
			}
		}
		if copies == 0 {
			t.Fatal("no DHT node holds the live record")
		}
	})
}

func mustLookupUser(t *testing.T, n *simNode, device string) peer.ID {
	t.Helper()
	keys := n.dir.store.ownKeys()
	if len(keys) != 1 {
		t.Fatalf("own keys: %v", keys)
	}
	pk, err := parseKey(keys[0])
	if err != nil || pk.device != device {
		t.Fatalf("own key %q: %v", keys[0], err)
	}
	return pk.user
}

// storedAge reads kad-dht's stored copy of key on n and returns how long
// ago it was received.
func storedAge(t *testing.T, n *simNode, key string) (time.Duration, bool) {
	t.Helper()
	res, err := n.values.Query(context.Background(), dsqAll())
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := res.Rest()
	for _, e := range entries {
		var rec recpb.Record
		if proto.Unmarshal(e.Value, &rec) != nil || string(rec.GetKey()) != key {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, rec.GetTimeReceived())
		if err != nil {
			t.Fatalf("time received %q: %v", rec.GetTimeReceived(), err)
		}
		return time.Since(at), true
	}
	return 0, false
}
