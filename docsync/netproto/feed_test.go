package netproto

import (
	"bytes"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

func TestFeedRequestBytes(t *testing.T) {
	r := FeedRequest{Doc: docsync.DocID{1, 2}, From: 0x0102}
	want := append(append([]byte{1, 2}, make([]byte, 30)...), 0, 0, 0, 0, 0, 0, 1, 2)
	if got := r.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("Marshal = %x, want %x", got, want)
	}
	back, err := DecodeFeedRequest(want)
	if err != nil || back != r {
		t.Fatalf("DecodeFeedRequest = %+v, %v", back, err)
	}
	for _, bad := range [][]byte{nil, want[:39], append(want, 0), FeedRequest{From: 0}.Marshal()} {
		if _, err := DecodeFeedRequest(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeFeedRequest(%x) = %v, want ErrMalformed", bad, err)
		}
	}
}

// FuzzFeedRequest decodes arbitrary bytes: no panic, and what decodes
// encodes back to the same bytes.
func FuzzFeedRequest(f *testing.F) {
	f.Add(FeedRequest{Doc: docsync.DocID{9}, From: 1}.Marshal())
	f.Add(FeedRequest{From: ^uint64(0)}.Marshal())
	f.Add(make([]byte, FeedRequestSize))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeFeedRequest(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !bytes.Equal(r.Marshal(), b) || r.From == 0 {
			t.Fatalf("round trip of %x gave %+v", b, r)
		}
	})
}
