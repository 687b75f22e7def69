package downloads

import (
	"encoding/hex"
	"testing"

	"github.com/clone2clone/c2c/replication/boxostore"
)

// FuzzDecodeItem: a state record (it arrives from the other side in a
// resync) either decodes into an item that re-encodes to itself, or is
// refused.
func FuzzDecodeItem(f *testing.F) {
	ref, _ := boxostore.NewMem().Add([]byte("hello"))
	f.Add((&Item{URL: "https://example.com/a", When: WiFi, Status: StatusRequested, Tries: 1}).encode())
	f.Add((&Item{URL: "http://example.com/b", When: Now, Status: StatusPulled, Tries: 2, Ref: ref,
		Verdict: Verdict{Infected: true, Name: "n", By: "body", DBVersion: 3}, CachedAt: 5, PulledAt: 6}).encode())
	f.Add((&Item{URL: "http://example.com/c", When: Manual, Status: StatusFailed, Tries: 1, Reason: "HTTP 404"}).encode())
	key := hex.EncodeToString(make([]byte, 32))
	f.Fuzz(func(t *testing.T, v []byte) {
		it, err := decodeItem(key, v)
		if err != nil {
			return
		}
		back, err := decodeItem(key, it.encode())
		if err != nil || back.URL != it.URL || back.Status != it.Status || back.Ref != it.Ref || back.Verdict != it.Verdict {
			t.Fatalf("re-encoding %+v: %+v %v", it, back, err)
		}
		if _, err := refsOf(key, v); err != nil {
			t.Fatalf("refsOf refused a record decodeItem took: %v", err)
		}
	})
}
