package blobxfer

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// fuzzServer is a server whose clone is peer 1 and device peer 2, on an
// in-memory store holding one two-leaf blob.
func fuzzServer(f *testing.F) (*Server, peer.ID, boxostore.Ref) {
	key := func(b byte) (crypto.PrivKey, peer.ID) {
		k, _, _ := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{b}, 64)))
		id, _ := peer.IDFromPrivateKey(k)
		return k, id
	}
	user, _ := key(1)
	_, cloneID := key(2)
	_, devID := key(3)
	_, hpke, _ := dht.GenerateHPKEKey()
	cert, err := dht.SignOwnerCert(user, dht.OwnerCert{Device: "phone", DeviceKey: devID, Clone: cloneID, CloneHPKE: hpke,
		Seq: 1, EOL: time.Unix(4e9, 0)})
	if err != nil {
		f.Fatal(err)
	}
	store := boxostore.NewMem()
	ref, _ := store.Add(bytes.Repeat([]byte("fuzz"), boxostore.ChunkSize/2+10))
	s := &Server{blobs: store, cert: cert, params: DefaultParams(), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		clock: func() time.Time { return time.Unix(1e9, 0) }}
	s.rate = newRate(s.params)
	return s, devID, ref
}

func frames(ms ...*Msg) []byte {
	var b bytes.Buffer
	for _, m := range ms {
		_, _ = bounded.WriteFrame(&b, m.Append(nil))
	}
	return b.Bytes()
}

// FuzzServe: whatever the device's stream carries (a hello, wants, blocks
// to upload, garbage), the server answers or ends without panicking, and
// stores only blocks that hash to a CID it asked for.
func FuzzServe(f *testing.F) {
	s, dev, ref := fuzzServer(f)
	f.Add(frames(&Msg{Kind: KindHello, Mode: ModeGet, Ref: ref}, &Msg{Kind: KindWant, Want: []cidT{ref.CID}}, &Msg{Kind: KindDone}))
	other := boxostore.NewMem()
	up, _ := other.Add([]byte("an upload"))
	blk, _ := other.Get(mustHash(up.CID))
	f.Add(frames(&Msg{Kind: KindHello, Mode: ModePut, Ref: up}, &Msg{Kind: KindBlock, Block: blk}))
	f.Add(frames(&Msg{Kind: KindHello, Mode: ModePut, Ref: up}, &Msg{Kind: KindBlock, Block: []byte("not it")}))
	f.Add([]byte{3, 'H', 'g', 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		s.blobs = boxostore.NewMem()
		_, _ = s.blobs.Add(bytes.Repeat([]byte("fuzz"), boxostore.ChunkSize/2+10))
		s.serve(dev, &conn{r: bufio.NewReader(bytes.NewReader(in)), w: io.Discard})
		if ok, _ := s.blobs.Has(mustHash(up.CID)); ok {
			if b, err := s.blobs.Get(mustHash(up.CID)); err != nil || !bytes.Equal(b, blk) {
				t.Fatal("stored a block that is not the one its CID names")
			}
		}
	})
}

type cidT = cid.Cid

func mustHash(c cid.Cid) replication.Hash {
	h, err := boxostore.HashOf(c)
	if err != nil {
		panic(err)
	}
	return h
}
