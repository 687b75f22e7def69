package node

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A provider and a clone stopped and restarted on the same data dirs (real
// pebble datastores) keep their peer IDs; the provider still serves the
// clone's record while the clone is down, and the clone republishes on boot.
func TestRestartKeepsIdentityAndRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSimNet(t)
		provDir, cloneDir := t.TempDir(), t.TempDir()
		cert := enrollClone(t, cloneDir, userKey(t), "phone")

		prov := s.start(RoleProvider, provDir, "1.0.0.1", nil, nil)
		boot := []peer.AddrInfo{prov.AddrInfo()}
		clone := s.start(RoleClone, cloneDir, "1.0.0.2", boot, nil)
		waitClosed(t, "clone published", clone.Published(), time.Minute)
		provID, cloneID := prov.ID(), clone.ID()
		if cloneID != cert.Clone {
			t.Fatalf("clone runs as %s, certificate names %s", cloneID, cert.Clone)
		}
		if err := clone.Close(); err != nil {
			t.Fatalf("close clone: %v", err)
		}
		if err := prov.Close(); err != nil {
			t.Fatalf("close provider: %v", err)
		}
		if _, err := os.Stat(filepath.Join(provDir, DatastoreDir)); err != nil {
			t.Fatalf("provider datastore not on disk: %v", err)
		}

		prov2 := s.start(RoleProvider, provDir, "1.0.0.1", nil, nil)
		if prov2.ID() != provID {
			t.Fatalf("provider came back as %s, was %s", prov2.ID(), provID)
		}
		if n := prov2.Directory().Stats().Records; n < 1 {
			t.Fatalf("restarted provider's replica holds %d records, want the clone's", n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		got, err := prov2.Directory().Lookup(ctx, cert.User, "phone")
		if err != nil || got.Clone != cloneID {
			t.Fatalf("restarted provider, clone still down: lookup = %v, %v", got, err)
		}

		clone2 := s.start(RoleClone, cloneDir, "1.0.0.2", boot, nil)
		if clone2.ID() != cloneID {
			t.Fatalf("clone came back as %s, was %s", clone2.ID(), cloneID)
		}
		waitClosed(t, "restarted clone republished", clone2.Published(), time.Minute)
		if c := metricValue(t, clone2.metrics.publishes.WithLabelValues("ok")); c != 1 {
			t.Fatalf("restarted clone counted %v publications, want 1", c)
		}
		got, err = prov2.Directory().Lookup(ctx, cert.User, "phone")
		if err != nil || got.Clone != cloneID {
			t.Fatalf("after the clone's restart: lookup = %v, %v", got, err)
		}
	})
}
