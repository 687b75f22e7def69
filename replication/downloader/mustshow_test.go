package downloader_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/downloader"
	"github.com/clone2clone/c2c/replication/downloads"
	blockstore "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/datastore/dshelp"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newHost(t *testing.T, key crypto.PrivKey) host.Host {
	t.Helper()
	opts := []libp2p.Option{libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0")}
	if key != nil {
		opts = append(opts, libp2p.Identity(key))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t *testing.T, a, b host.Host) {
	t.Helper()
	if err := a.Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// rogueClone is a clone whose store serves a wrong byte: a real blobxfer
// server for the device, over a copy of honest's blocks in which one leaf's
// bytes were flipped behind the blockstore's back (a bad disk, a malicious
// provider).
func rogueClone(t *testing.T, honest *boxostore.Store, ref boxostore.Ref, device peer.ID) host.Host {
	t.Helper()
	h := newHost(t, nil)
	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	store := boxostore.New(ds)
	if err := store.Import(ref.CID, honest); err != nil {
		t.Fatal(err)
	}
	leaves := 0
	_ = boxostore.Walk(ref.CID, honest, func(c cid.Cid, b []byte) error {
		if c.Type() == cid.Raw {
			if leaves++; leaves == 2 {
				bad := append([]byte(nil), b...)
				bad[1000] ^= 0x40
				key := blockstore.BlockPrefix.Child(dshelp.MultihashToDsKey(c.Hash()))
				if err := ds.Put(context.Background(), key, bad); err != nil {
					t.Fatal(err)
				}
			}
		}
		return nil
	})
	bx, err := blobxfer.New(h, store, ownerCert(t, h, device), blobxfer.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bx.Close() })
	return h
}

// ownerCert enrolls device on clone under a fresh user key.
func ownerCert(t *testing.T, clone host.Host, device peer.ID) *dht.OwnerCert {
	t.Helper()
	user, _, _ := crypto.GenerateEd25519Key(nil)
	_, hpke, _ := dht.GenerateHPKEKey()
	cert, err := dht.SignOwnerCert(user, dht.OwnerCert{Device: "phone", DeviceKey: device, Clone: clone.ID(),
		CloneHPKE: hpke, Seq: 1, EOL: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestMustShowResumedDownload is issue 15's must-show: a download is
// interrupted again and again, the HTTP source cut three times at
// different offsets, then the device link dropped twice during the pull,
// and each time it resumes; what the device keeps is verified block by
// block, a giver that serves a wrong byte is refused and leaves nothing
// unverified behind, and the device's downloads app ends in the mirror's
// state without the file's bytes ever going up the device link.
func TestMustShowResumedDownload(t *testing.T) {
	data := content(6<<20 + 4321) // 25 leaves and a root under the pinned profile
	src := &source{data: data, etag: `"big"`, cuts: []int{500_000, 2_100_000, 1_234_567}}
	srv := httptest.NewServer(src)
	defer srv.Close()

	// The clone: the downloader on its blob store, which blobxfer serves.
	r := newRig(t, nil, testParams())
	devKey, _, _ := crypto.GenerateEd25519Key(nil)
	clone, device := newHost(t, nil), newHost(t, devKey)
	bx, err := blobxfer.New(clone, r.store, ownerCert(t, clone, device.ID()), blobxfer.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer bx.Close()

	// The device's downloads app beside the mirror's, fed the same inputs.
	devStore := boxostore.NewMem()
	devApp := downloads.New(devStore)
	devApply := func(src replication.Source, seq uint64, p []byte) error {
		_, err := devApp.Apply(&replication.Event{Source: src, Epoch: 1, Seq: seq, Time: replication.Time(seq), Payload: p})
		return err
	}
	req := downloads.Request(srv.URL+"/big.bin", downloads.Now)
	if err := devApply(replication.User, 1, req); err != nil {
		t.Fatal(err)
	}
	id := r.mirror.request(t, r.dl, srv.URL+"/big.bin")

	// 1. The clone fetches through three cuts and relays "file cached".
	c := r.mirror.next(t)
	if c.Failed() || c.Ref.SHA256 != sha256.Sum256(data) || c.ID != id {
		t.Fatalf("relayed %+v", c)
	}
	src.mu.Lock()
	if len(src.ranges) != 4 || src.served != len(data) {
		t.Fatalf("%d requests (%q), %d bytes served for %d", len(src.ranges), src.ranges, src.served, len(data))
	}
	src.mu.Unlock()
	r.mirror.apply(t, replication.Network, c.Marshal())
	if err := devApply(replication.Network, 2, c.Marshal()); err != nil {
		t.Fatal(err)
	}

	// The device sees the clone's progress; a stranger is not answered.
	r.dl.ServeProgress(clone, device.ID())
	connect(t, device, clone)
	rep, err := downloader.AskProgress(context.Background(), device, clone.ID(), id)
	if err != nil || rep.State != downloader.StateCached || rep.Done != int64(len(data)) || rep.Total != int64(len(data)) || rep.Attempts != 4 {
		t.Fatalf("progress: %+v %v", rep, err)
	}
	stranger := newHost(t, nil)
	connect(t, stranger, clone)
	if rep, err := downloader.AskProgress(context.Background(), stranger, clone.ID(), id); err == nil {
		t.Fatalf("a stranger got the progress: %+v", rep)
	}

	// 2. A clone that serves a wrong byte is refused; the device keeps only
	// blocks that match their CIDs, so the file is not complete and the
	// device cannot record it as pulled.
	rogue := rogueClone(t, r.store, c.Ref, device.ID())
	connect(t, device, rogue)
	if _, err := blobxfer.Pull(context.Background(), device, rogue.ID(), c.Ref, devStore, nil); !errors.Is(err, blobxfer.ErrCorrupt) {
		t.Fatalf("pull from a rogue giver: %v", err)
	}
	checkHeldVerified(t, c.Ref, r.store, devStore)
	if err := devApply(replication.User, 3, downloads.Pulled(id)); !errors.Is(err, downloads.ErrBadOp) {
		t.Fatalf("pulled with an incomplete file: %v", err)
	}

	// 3. The pull from the clone, its link dropped twice mid-way, resumes.
	connect(t, device, clone)
	for drop := 1; drop <= 2; drop++ {
		var at uint64
		_, err := blobxfer.Pull(context.Background(), device, clone.ID(), c.Ref, devStore, func(done, total uint64) {
			if at == 0 && done >= total*uint64(drop)/3 {
				at = done
				_ = device.Network().ClosePeer(clone.ID()) // the phone's radio drops
			}
		})
		if err == nil {
			t.Fatalf("drop %d: the pull finished although the link dropped at %d", drop, at)
		}
		checkHeldVerified(t, c.Ref, r.store, devStore)
		connect(t, device, clone)
	}
	st, err := blobxfer.Pull(context.Background(), device, clone.ID(), c.Ref, devStore, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Held == 0 || st.Blocks == 0 {
		t.Fatalf("the last pull did not resume: %+v", st)
	}
	got, err := devStore.Read(c.Ref)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the device's copy: %v", err)
	}

	// 4. Pulled: recorded on the device, replayed on the mirror against its
	// cached copy; the states match.
	if err := devApply(replication.User, 3, downloads.Pulled(id)); err != nil {
		t.Fatal(err)
	}
	r.mirror.apply(t, replication.User, downloads.Pulled(id))
	r.mirror.mu.Lock()
	mirrorRoot := r.mirror.app().Root()
	r.mirror.mu.Unlock()
	if devApp.Root() != mirrorRoot {
		t.Fatal("the device's downloads app and the mirror's differ after the pull")
	}
}

// checkHeldVerified: every block of ref's DAG the device holds is
// byte-identical to the clone's.
func checkHeldVerified(t *testing.T, ref boxostore.Ref, honest, dev *boxostore.Store) {
	t.Helper()
	err := boxostore.Walk(ref.CID, honest, func(c cid.Cid, b []byte) error {
		h, _ := boxostore.HashOf(c)
		if ok, _ := dev.Has(h); !ok {
			return nil
		}
		got, err := dev.Get(h)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("the device holds block %v with bytes that are not its own (%v)", c, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
