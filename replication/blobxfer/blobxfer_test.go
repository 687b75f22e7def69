package blobxfer_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func content(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 9))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func newHost(t testing.TB, key crypto.PrivKey) host.Host {
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

// pair is a clone serving blobxfer and its enrolled device, connected.
type pair struct {
	clone, device host.Host
	cert          *dht.OwnerCert
	srv           *blobxfer.Server
	cloneStore    *boxostore.Store
	deviceStore   *boxostore.Store
}

func enroll(t testing.TB, clone host.Host, devID peer.ID, name string) *dht.OwnerCert {
	t.Helper()
	user, _, _ := crypto.GenerateEd25519Key(nil)
	_, hpke, _ := dht.GenerateHPKEKey()
	cert, err := dht.SignOwnerCert(user, dht.OwnerCert{Device: name, DeviceKey: devID, Clone: clone.ID(),
		CloneHPKE: hpke, Seq: 1, EOL: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func newPair(t testing.TB, opts ...blobxfer.Option) *pair {
	t.Helper()
	devKey, _, _ := crypto.GenerateEd25519Key(nil)
	p := &pair{clone: newHost(t, nil), device: newHost(t, devKey), cloneStore: boxostore.NewMem(), deviceStore: boxostore.NewMem()}
	p.cert = enroll(t, p.clone, p.device.ID(), "phone")
	var err error
	p.srv, err = blobxfer.New(p.clone, p.cloneStore, p.cert, append([]blobxfer.Option{blobxfer.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	connect(t, p.device, p.clone)
	return p
}

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	if err := a.Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// TestPullCutAndResumed: a pull cut after a third of the leaves leaves
// exactly the verified blocks that arrived; the next pull asks only for
// the rest, and a third asks for nothing.
func TestPullCutAndResumed(t *testing.T) {
	p := newPair(t)
	data := content(1, 12*boxostore.ChunkSize+777) // a root and 13 leaves
	ref, err := p.cloneStore.Add(data)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cut := context.WithCancel(context.Background())
	var seen uint64
	_, err = blobxfer.Pull(ctx, p.device, p.clone.ID(), ref, p.deviceStore, func(done, total uint64) {
		seen = done
		if done >= total/3 {
			cut()
		}
	})
	if !errors.Is(err, blobxfer.ErrUnavailable) {
		t.Fatalf("cut pull: %v", err)
	}
	if _, err := p.deviceStore.Read(ref); err == nil {
		t.Fatal("a cut pull left a complete blob")
	}
	leavesHeld := int(seen / boxostore.ChunkSize)
	st, err := blobxfer.Pull(context.Background(), p.device, p.clone.ID(), ref, p.deviceStore, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Held: the root and the leaves that arrived before the cut.
	if st.Held != 1+leavesHeld || st.Blocks != 13-leavesHeld || st.Rounds != 1 {
		t.Fatalf("resumed pull %+v, %d leaves held before", st, leavesHeld)
	}
	got, err := p.deviceStore.Read(ref)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after the resume: %v", err)
	}
	st, err = blobxfer.Pull(context.Background(), p.device, p.clone.ID(), ref, p.deviceStore, nil)
	if err != nil || st.Blocks != 0 || st.Rounds != 0 || st.Held != 14 {
		t.Fatalf("pull of a held blob: %+v %v", st, err)
	}
}

// TestPushOnce: the device uploads a blob; a second upload moves no block;
// the clone holds the content, checked against its SHA-256.
func TestPushOnce(t *testing.T) {
	p := newPair(t)
	data := content(2, 3*boxostore.ChunkSize+5)
	ref, _ := p.deviceStore.Add(data)
	var last uint64
	st, err := blobxfer.Push(context.Background(), p.device, p.clone.ID(), ref, p.deviceStore, func(done, _ uint64) { last = done })
	if err != nil || st.Blocks != 5 || last != ref.Size {
		t.Fatalf("push: %+v %v (progress %d)", st, err, last)
	}
	if got, err := p.cloneStore.Read(ref); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("clone's copy: %v", err)
	}
	st, err = blobxfer.Push(context.Background(), p.device, p.clone.ID(), ref, p.deviceStore, nil)
	if err != nil || st.Blocks != 0 {
		t.Fatalf("second push: %+v %v", st, err)
	}
	// A Ref whose SHA-256 is not its content's: every block verifies, the
	// whole does not, and the clone says so.
	bad := ref
	bad.SHA256[0] ^= 1
	if _, err := blobxfer.Push(context.Background(), p.device, p.clone.ID(), bad, p.deviceStore, nil); !errors.Is(err, blobxfer.ErrCorrupt) {
		t.Fatalf("push of a wrong SHA-256: %v", err)
	}
}

// TestCorruptBlockRefusedNeverStored: a giver that flips a byte of the
// third leaf: the pull fails with ErrCorrupt, the blocks before it are
// stored (each verified), the bad one is not.
func TestCorruptBlockRefusedNeverStored(t *testing.T) {
	src := boxostore.NewMem()
	data := content(3, 5*boxostore.ChunkSize)
	ref, _ := src.Add(data)
	rogue := newHost(t, nil)
	rogue.SetStreamHandler(blobxfer.Protocol, func(st network.Stream) {
		defer st.Close()
		r := bufio.NewReader(st)
		if _, _, err := bounded.ReadFrame(r, 1<<20); err != nil { // hello
			return
		}
		n := 0
		for {
			b, _, err := bounded.ReadFrame(r, 1<<20)
			if err != nil {
				return
			}
			m, err := blobxfer.Decode(b)
			if err != nil || m.Kind != blobxfer.KindWant {
				return
			}
			for _, c := range m.Want {
				h, _ := boxostore.HashOf(c)
				blk, _ := src.Get(h)
				if c.Type() == 0x55 {
					n++
					if n == 3 {
						blk = append([]byte(nil), blk...)
						blk[100] ^= 1
					}
				}
				if _, err := bounded.WriteFrame(st, (&blobxfer.Msg{Kind: blobxfer.KindBlock, Block: blk}).Append(nil)); err != nil {
					return
				}
			}
		}
	})
	dev := newHost(t, nil)
	connect(t, dev, rogue)
	dst := boxostore.NewMem()
	_, err := blobxfer.Pull(context.Background(), dev, rogue.ID(), ref, dst, nil)
	if !errors.Is(err, blobxfer.ErrCorrupt) {
		t.Fatalf("pull from a rogue giver: %v", err)
	}
	// Walk the honest DAG: the root and two leaves are held, the third is not.
	var held []bool
	_ = boxostore.Walk(ref.CID, src, func(c cidT, _ []byte) error {
		h, _ := boxostore.HashOf(c)
		ok, _ := dst.Has(h)
		held = append(held, ok)
		return nil
	})
	if len(held) != 6 || !held[0] || !held[1] || !held[2] || held[3] || held[4] {
		t.Fatalf("held after the corrupt block: %v", held)
	}
}

// TestAuthorization: strangers and uploads from other clones are refused;
// another clone pulls only what the authorizer allows, with a certificate
// that names it.
func TestAuthorization(t *testing.T) {
	var allow bool
	var asked *dht.OwnerCert
	p := newPair(t, blobxfer.WithAuthorizer(func(_ context.Context, c *dht.OwnerCert, _ boxostore.Ref) bool {
		asked = c
		return allow
	}))
	ref, _ := p.cloneStore.Add(content(4, 1000))
	ctx := context.Background()

	stranger := newHost(t, nil)
	connect(t, stranger, p.clone)
	if _, err := blobxfer.Pull(ctx, stranger, p.clone.ID(), ref, boxostore.NewMem(), nil); !errors.Is(err, blobxfer.ErrRefused) {
		t.Fatalf("a stranger's pull: %v", err)
	}
	other := newHost(t, nil)
	connect(t, other, p.clone)
	otherCert := enroll(t, other, p.device.ID(), "tablet")
	if _, err := blobxfer.PullAs(ctx, other, p.clone.ID(), otherCert, ref, boxostore.NewMem(), nil); !errors.Is(err, blobxfer.ErrRefused) || asked == nil {
		t.Fatalf("a clone the authorizer refuses: %v", err)
	}
	allow = true
	dst := boxostore.NewMem()
	if _, err := blobxfer.PullAs(ctx, other, p.clone.ID(), otherCert, ref, dst, nil); err != nil {
		t.Fatalf("an authorized clone: %v", err)
	}
	// A certificate of another clone (the stranger presents other's).
	if _, err := blobxfer.PullAs(ctx, stranger, p.clone.ID(), otherCert, ref, boxostore.NewMem(), nil); !errors.Is(err, blobxfer.ErrRefused) {
		t.Fatalf("someone else's certificate: %v", err)
	}
	// Only the clone's own device uploads.
	if _, err := blobxfer.Push(ctx, stranger, p.clone.ID(), ref, p.cloneStore, nil); !errors.Is(err, blobxfer.ErrRefused) {
		t.Fatalf("a stranger's upload: %v", err)
	}
	// Over the size cap: refused before a stream opens.
	big := ref
	big.Size = blobxfer.MaxBlobBytes + 1
	if _, err := blobxfer.Pull(ctx, p.device, p.clone.ID(), big, boxostore.NewMem(), nil); !errors.Is(err, blobxfer.ErrTooLarge) {
		t.Fatalf("an oversized ref: %v", err)
	}
}

// TestRepeatedChunksMoveOnce: a file of five identical chunks is a root
// and one leaf on the wire; the progress still reaches the whole size.
func TestRepeatedChunksMoveOnce(t *testing.T) {
	p := newPair(t)
	data := make([]byte, 5*boxostore.ChunkSize)
	ref, _ := p.cloneStore.Add(data)
	var last uint64
	st, err := blobxfer.Pull(context.Background(), p.device, p.clone.ID(), ref, p.deviceStore, func(done, _ uint64) { last = done })
	if err != nil || st.Blocks != 2 || last != ref.Size {
		t.Fatalf("pull: %+v %v (progress %d of %d)", st, err, last, ref.Size)
	}
	if got, err := p.deviceStore.Read(ref); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}
}
