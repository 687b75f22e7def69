package mirrorservice_test

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/builtin"
	"github.com/clone2clone/c2c/replication/files"
	"github.com/clone2clone/c2c/replication/mirrorservice"
	"github.com/clone2clone/c2c/replication/syncclient"
	"github.com/libp2p/go-libp2p/core/peer"
)

// resyncs records the mirror's resync reports.
type resyncs struct {
	mu      sync.Mutex
	reports []replication.ResyncReport
}

func (r *resyncs) Replayed(replication.Replayed, int) {}
func (r *resyncs) Outputs([]replication.AppOutput)    {}
func (r *resyncs) Notice(n replication.Notice) {
	if n.Kind == replication.NoticeResynced && n.Resync != nil {
		r.mu.Lock()
		r.reports = append(r.reports, *n.Resync)
		r.mu.Unlock()
	}
}

func filesOf(t testing.TB, s *replication.AppSet) *files.App {
	a, ok := s.App(files.Name)
	if !ok {
		t.Fatal("no files app")
	}
	return a.(*files.App)
}

// TestFilesDivergenceRepaired runs the built-in apps over the real wiring
// (libp2p on 127.0.0.1, pebble on both sides, blobs in each side's
// blockstore): files written on the device reach the mirror by replay;
// then the mirror's copy of a file is corrupted behind the core's back.
// The next batch's replay detects it, the resync fetches only the chunks
// that differ (one bucket, one root, one leaf), and the hashes match again.
func TestFilesDivergenceRepaired(t *testing.T) {
	r := newRig(t)
	cds, dds := openStore(t, r.cloneDir), openStore(t, r.deviceDir)
	defer cds.Close()
	defer dds.Close()
	obs := &resyncs{}
	srv, err := mirrorservice.New(ctxT(t, time.Minute), r.clone, cds, r.cert, builtin.Registry(boxostore.New(cds)),
		mirrorservice.WithLogger(quiet), mirrorservice.WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	user, _ := peer.IDFromPrivateKey(r.user)
	r.device.Peerstore().AddAddrs(r.clone.ID(), r.clone.Addrs(), time.Hour)
	c, err := syncclient.New(ctxT(t, time.Minute), r.device, peer.AddrInfo{ID: r.clone.ID()}, dds, builtin.Registry(boxostore.New(dds)),
		syncclient.Config{User: user, Device: "phone", Apps: builtin.Apps, SyncInterval: 50 * time.Millisecond, MaxDelay: 20 * time.Millisecond},
		syncclient.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t, 60*time.Second)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 3*boxostore.ChunkSize+1000)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	for _, p := range [][]byte{files.Mkdir("docs"), files.Put("docs/big", big), files.Put("docs/copy", big), files.Put("a.txt", []byte("hello"))} {
		if _, err := c.Input(ctx, files.Name, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Wait(ctx, syncclient.Synced); err != nil {
		t.Fatal(err)
	}
	var mirBig []byte
	_ = srv.View(ctx, func(s *replication.AppSet) { mirBig, err = filesOf(t, s).Read("docs/big") })
	if err != nil || !bytes.Equal(mirBig, big) {
		t.Fatalf("the mirror's docs/big: %v", err)
	}

	// Corrupt the mirror's replica of docs/big (a fault the core cannot see).
	_ = srv.View(ctx, func(s *replication.AppSet) {
		_, err = filesOf(t, s).Apply(&replication.Event{Time: 1, Payload: files.Write("docs/big", 2*boxostore.ChunkSize+5, []byte("rot"))})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Input(ctx, files.Name, files.Put("after.txt", []byte("next batch"))); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, func(s syncclient.Status) bool { return s.Resyncs >= 1 && !s.Frozen }); err != nil {
		t.Fatal(err)
	}
	// Replay goes on: the batch after the resync matches.
	if _, err := c.Input(ctx, files.Name, files.Put("resumed.txt", []byte("ok"))); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, syncclient.Synced); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	reps := append([]replication.ResyncReport(nil), obs.reports...)
	obs.mu.Unlock()
	if len(reps) != 1 {
		t.Fatalf("%d resyncs", len(reps))
	}
	rep := reps[0]
	if rep.ChunkBytes > boxostore.ChunkSize+8<<10 || rep.StateBytes < len(big) || len(rep.Repaired) != 1 || rep.Repaired[0] != files.Name {
		t.Fatalf("resync report %+v", rep)
	}
	t.Logf("resync moved %d bytes in %d chunks (offer %d bytes) of a %d-byte state", rep.ChunkBytes, rep.Chunks, rep.OfferBytes, rep.StateBytes)
	st, _ := c.Status(ctx)
	snap, _ := srv.Snapshot(ctx)
	_ = srv.View(ctx, func(s *replication.AppSet) { mirBig, err = filesOf(t, s).Read("docs/big") })
	if err != nil || !bytes.Equal(mirBig, big) || snap.StateHash != st.DeviceHash {
		t.Fatalf("after the resync: %v, hashes match %v", err, snap.StateHash == st.DeviceHash)
	}
}
