package replication_test

import (
	"crypto/sha256"
	"math/rand/v2"
	"testing"
	"testing/quick"

	"github.com/clone2clone/c2c/replication"
)

// TestTreeMatchesReference checks the incremental tree against the
// from-scratch Manifest.Root after random sets, for sizes across level
// boundaries.
func TestTreeMatchesReference(t *testing.T) {
	f := func(size uint16, seed uint64, sets uint8) bool {
		n := int(size%600) + 1
		rng := rand.New(rand.NewPCG(seed, 1))
		tr := replication.NewTree(n)
		ref := make(replication.Manifest, n)
		if tr.Root() != ref.Root() {
			return false
		}
		for round := 0; round < 3; round++ {
			for k := 0; k < int(sets%40)+1; k++ {
				i := rng.IntN(n)
				h := replication.Hash(sha256.Sum256([]byte{byte(rng.Uint32()), byte(k)}))
				if rng.IntN(5) == 0 {
					h = replication.Hash{}
				}
				tr.Set(i, h)
				ref[i] = h
			}
			if tr.Root() != ref.Root() || tr.Root() != tr.Leaves().Root() {
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 300}); err != nil {
		t.Fatal(err)
	}
}

func TestManifestRootBindsLength(t *testing.T) {
	a := make(replication.Manifest, 16)
	b := make(replication.Manifest, 17)
	if a.Root() == b.Root() {
		t.Fatal("manifests of 16 and 17 empty leaves share a root")
	}
}
