package docsync

import (
	"bytes"
	"testing"
)

// A numbered repeat decodes to the head it repeats, and each number gives
// other bytes (gossipsub names a message by its bytes: the same bytes
// again are dropped as a duplicate).
func TestHeadMarshalRepeat(t *testing.T) {
	h := Head{Seq: 14, Sig: bytes.Repeat([]byte{7}, 64)}
	h.Doc[0], h.ChainHash[0] = 1, 2
	plain, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{string(plain): true}
	for n := range uint64(3) {
		b, err := h.MarshalRepeat(n + 1)
		if err != nil {
			t.Fatal(err)
		}
		if seen[string(b)] {
			t.Fatalf("repeat %d: same bytes as an earlier message", n+1)
		}
		seen[string(b)] = true
		got, err := DecodeHead(b)
		if err != nil {
			t.Fatalf("repeat %d: %v", n+1, err)
		}
		if got.Doc != h.Doc || got.Seq != h.Seq || got.ChainHash != h.ChainHash || !bytes.Equal(got.Sig, h.Sig) {
			t.Fatalf("repeat %d decodes to %+v, want %+v", n+1, got, h)
		}
	}
}
