package boxostore_test

import (
	"bytes"
	"errors"
	"testing"

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
