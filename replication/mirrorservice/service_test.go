package mirrorservice_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/notes"
	"github.com/clone2clone/c2c/replication/syncclient"
)

// TestSyncRestart: network inputs relayed while the phone is off, user
// inputs, then each side closed and reopened from its store: the device
// and the mirror agree where they stand, nothing is lost or applied twice,
// and the state hashes match.
func TestSyncRestart(t *testing.T) {
	r := newRig(t)
	cds, dds := openStore(t, r.cloneDir), openStore(t, r.deviceDir)
	defer cds.Close()
	defer dds.Close()
	srv := r.server(cds)
	ctx := ctxT(t, 30*time.Second)
	for i := range 3 {
		if err := srv.Relay(ctx, notes.Name, notes.Put(fmt.Sprintf("net%d", i), []byte("from afar"))); err != nil {
			t.Fatal(err)
		}
	}
	c := r.client(dds, 50*time.Millisecond)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := c.Input(ctx, notes.Name, notes.Put(fmt.Sprintf("k%d", i%7), []byte(fmt.Sprint(i)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Wait(ctx, syncclient.Synced); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Phone off: the clone keeps accepting network inputs.
	if err := srv.Relay(ctx, notes.Name, notes.Put("while-off", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	// The clone restarts too.
	srv.Close()
	srv = r.server(cds)
	defer srv.Close()

	c = r.client(dds, time.Second) // the journal's settings win over these
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Input(ctx, notes.Name, notes.Insert("k1", 0, []byte(">"))); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, func(s syncclient.Status) bool { return syncclient.Synced(s) && s.LastNet == 4 }); err != nil {
		t.Fatal(err)
	}
	st, _ := c.Status(ctx)
	snap, err := srv.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Settings.SyncMs != 50 || snap.StateHash != st.DeviceHash || snap.Position.Taken != st.Number {
		t.Fatalf("device %+v\nmirror %+v", st, snap.Position)
	}
	var devNotes, mirNotes int
	var k1 string
	_ = c.View(ctx, func(s *replication.AppSet) { devNotes = noteOf(t, s).Len() })
	_ = srv.View(ctx, func(s *replication.AppSet) {
		mirNotes = noteOf(t, s).Len()
		v, _ := noteOf(t, s).Get("k1")
		k1 = string(v)
	})
	if devNotes != 11 || mirNotes != 11 || k1 != ">15" {
		t.Fatalf("device %d notes, mirror %d, k1 %q", devNotes, mirNotes, k1)
	}
}
