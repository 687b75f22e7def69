package boxostore_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/ipfs/boxo/ipld/merkledag"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
)

func TestAddReadAndRefRoundTrip(t *testing.T) {
	s := boxostore.NewMem()
	data := bytes.Repeat([]byte("0123456789"), boxostore.ChunkSize/4)
	ref, err := s.Add(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := boxostore.NewMem().Add(data)
	if again.CID != ref.CID {
		t.Fatal("the pinned profile gave two CIDs for one content")
	}
	got, err := s.Read(ref)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}
	enc := boxostore.AppendRef([]byte("x"), ref)
	back, rest, err := boxostore.ReadRef(enc[1:])
	if err != nil || back != ref || len(rest) != 0 {
		t.Fatalf("ref round trip: %+v %v", back, err)
	}
	bad := ref
	bad.SHA256[0] ^= 1
	if _, err := s.Read(bad); !errors.Is(err, boxostore.ErrCorrupt) {
		t.Fatalf("a wrong SHA-256: %v", err)
	}
	if _, err := boxostore.NewMem().Read(ref); !errors.Is(err, replication.ErrChunkNotFound) {
		t.Fatalf("missing blocks: %v", err)
	}
}

func FuzzReadRef(f *testing.F) {
	ref, _ := boxostore.NewMem().Add([]byte("hello"))
	f.Add(boxostore.AppendRef(nil, ref))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		r, _, err := boxostore.ReadRef(p)
		if err == nil {
			if _, err := boxostore.HashOf(r.CID); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A dag-pb node wider than the profile builds is refused by Links; the
// widest node the profile builds (a root of MaxLinks leaves) passes.
func TestLinksRefusesWideNodes(t *testing.T) {
	s := boxostore.NewMem()
	ref, err := s.Add(make([]byte, boxostore.MaxLinks*boxostore.ChunkSize))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := boxostore.HashOf(ref.CID)
	root, err := s.Get(h)
	if err != nil {
		t.Fatal(err)
	}
	links, err := boxostore.Links(ref.CID, root)
	if err != nil || len(links) != boxostore.MaxLinks {
		t.Fatalf("the profile's widest node: %d links, %v", len(links), err)
	}
	leaf := links[0]
	nd := merkledag.NodeWithData(nil)
	for i := range boxostore.MaxLinks + 1 {
		if err := nd.AddRawLink(fmt.Sprint(i), &ipld.Link{Cid: leaf, Size: boxostore.ChunkSize}); err != nil {
			t.Fatal(err)
		}
	}
	nd.SetCidBuilder(ref.CID.Prefix())
	if _, err := boxostore.Links(nd.Cid(), nd.RawData()); !errors.Is(err, boxostore.ErrCorrupt) {
		t.Fatalf("a node of %d links: %v, want ErrCorrupt", boxostore.MaxLinks+1, err)
	}
}
