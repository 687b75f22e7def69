package docsim

import (
	"os"
	"strconv"
	"testing"
)

// simRuns returns the number of randomized runs: C2C_SIM_RUNS if set, else
// def (or short under -short).
func simRuns(def, short int) int {
	if n, err := strconv.Atoi(os.Getenv("C2C_SIM_RUNS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return short
	}
	return def
}

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
	for i := range simRuns(28, 8) {
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

// TestSeedReproducible: a seed determines the run (texts, seqs, message count).
func TestSeedReproducible(t *testing.T) {
	s := Scenario{Seed: 42, Clones: 6, Initial: 3, Ticks: 40, EditProb: 0.4, Membership: true}
	a, b := runConverge(t, s), runConverge(t, s)
	ra, rb := a.Net.Clones[0].Replica, b.Net.Clones[0].Replica
	if ra.Text() != rb.Text() || ra.Log().Seq() != rb.Log().Seq() || a.Net.Delivered != b.Net.Delivered {
		t.Fatalf("seed %d not reproducible: seq %d/%d, messages %d/%d", s.Seed,
			ra.Log().Seq(), rb.Log().Seq(), a.Net.Delivered, b.Net.Delivered)
	}
}
