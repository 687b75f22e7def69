package docsim

import (
	"testing"
)

func runConverge(t *testing.T, s Scenario) *Result {
	t.Helper()
	res, err := s.Run()
	if err != nil {
		t.Fatalf("seed %d: %v", s.Seed, err)
	}
	if err := res.CheckConverged(); err != nil {
		t.Fatalf("seed %d (clones %d, membership %v): %v", s.Seed, s.Clones, s.Membership, err)
	}
	return res
}

func TestConvergeSmall(t *testing.T) {
	res := runConverge(t, Scenario{Seed: 1, Clones: 3, Initial: 3, Ticks: 40, EditProb: 0.5})
	t.Logf("edits %d, seq %d, text %q", res.Edits, res.Net.Clones[0].Replica.Log().Seq(), res.Net.Clones[0].Replica.Text())
}

// TestConvergeRandom runs randomized scenarios with 3 to 16 clones, random
// delays, reorders and duplicates, with and without membership changes.
func TestConvergeRandom(t *testing.T) {
	runs := 24
	if testing.Short() {
		runs = 8
	}
	for i := range runs {
		seed := uint64(1000 + i)
		clones := 3 + i%14
		s := Scenario{Seed: seed, Clones: clones, Initial: max(2, clones/2), Ticks: 60,
			EditProb: 0.3, Membership: i%2 == 1}
		res := runConverge(t, s)
		if s.Membership {
			checkRemoved(t, s, res)
		}
	}
}
