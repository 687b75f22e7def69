package cloneservice

import (
	"encoding/hex"
	"fmt"
	"math"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/ipfs/go-datastore"
)

// The keys built by hand are the keys of their definitions, as clones
// stored them before (a restart reads what an older binary wrote).
func TestEntryKeysKeepTheirLayout(t *testing.T) {
	var doc docsync.DocID
	for i := range doc {
		doc[i] = byte(i*37 + 5)
	}
	prefix := "/c/" + hex.EncodeToString(doc[:])
	if got := docPrefix(doc); got != prefix {
		t.Fatalf("docPrefix %q, want %q", got, prefix)
	}
	if got, want := docKey(doc), datastore.NewKey(prefix); got != want {
		t.Fatalf("docKey %v, want %v", got, want)
	}
	for _, seq := range []uint64{0, 1, 15, 16, 0xabcdef, 1 << 40, math.MaxUint64} {
		want := datastore.NewKey(fmt.Sprintf("%s/e/%016x", prefix, seq))
		if got := entryKey(doc, seq); got != want {
			t.Fatalf("entryKey(%d) %v, want %v", seq, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = entryKey(doc, 12345) }); n > 1 {
		t.Errorf("entryKey allocates %.0f times, want 1", n)
	}
}
