package mirrorservice_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/builtin"
	"github.com/clone2clone/c2c/replication/files"
	"github.com/clone2clone/c2c/replication/mirrorservice"
	"github.com/clone2clone/c2c/replication/syncclient"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestPutByReference: a file uploaded first (blobxfer.Push) and then put by
// reference replays on the mirror with no resync; a put by reference whose
// upload did not happen is refused by the mirror's files app, which shows
// as a divergence, and the resync moves the file's blocks, after which the
// mirror holds the file and replay goes on.
func TestPutByReference(t *testing.T) {
	r := newRig(t)
	cds, dds := openStore(t, r.cloneDir), openStore(t, r.deviceDir)
	defer cds.Close()
	defer dds.Close()
	obs := &resyncs{}
	cloneBlobs, devBlobs := boxostore.New(cds), boxostore.New(dds)
	srv, err := mirrorservice.New(ctxT(t, time.Minute), r.clone, cds, r.cert, builtin.Registry(cloneBlobs),
		mirrorservice.WithLogger(quiet), mirrorservice.WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	bx, err := blobxfer.New(r.clone, cloneBlobs, r.cert, blobxfer.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer bx.Close()
	user, _ := peer.IDFromPrivateKey(r.user)
	r.device.Peerstore().AddAddrs(r.clone.ID(), r.clone.Addrs(), time.Hour)
	c, err := syncclient.New(ctxT(t, time.Minute), r.device, peer.AddrInfo{ID: r.clone.ID()}, dds, builtin.Registry(devBlobs),
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
	mirrorRead := func(path string) ([]byte, error) {
		var b []byte
		var err error
		_ = srv.View(ctx, func(s *replication.AppSet) { b, err = filesOf(t, s).Read(path) })
		return b, err
	}

	uploaded := bytes.Repeat([]byte("uploaded first "), 200000) // 3 MB
	ref, _ := devBlobs.Add(uploaded)
	if _, err := blobxfer.Push(ctx, r.device, r.clone.ID(), ref, devBlobs, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Input(ctx, files.Name, files.PutRef("up.bin", ref)); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, syncclient.Synced); err != nil {
		t.Fatal(err)
	}
	if got, err := mirrorRead("up.bin"); err != nil || !bytes.Equal(got, uploaded) {
		t.Fatalf("the mirror's up.bin: %v", err)
	}
	if st, _ := c.Status(ctx); st.Resyncs != 0 {
		t.Fatalf("%d resyncs after an upload and a put by reference", st.Resyncs)
	}

	skipped := bytes.Repeat([]byte("never uploaded "), 100000)
	ref2, _ := devBlobs.Add(skipped)
	if _, err := c.Input(ctx, files.Name, files.PutRef("skip.bin", ref2)); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, func(s syncclient.Status) bool { return s.Resyncs >= 1 && !s.Frozen }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Input(ctx, files.Name, files.Put("after.txt", []byte("ok"))); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, syncclient.Synced); err != nil {
		t.Fatal(err)
	}
	if got, err := mirrorRead("skip.bin"); err != nil || !bytes.Equal(got, skipped) {
		t.Fatalf("the mirror's skip.bin after the resync: %v", err)
	}
}
