package docsim

import (
	"testing"
	"time"
)

// partitionRuns runs the Partition scenario over seeded networks, the
// admin in the cut-off half on every other seed, and returns the totals.
func partitionRuns(t *testing.T, standby bool, firstSeed uint64) (takeovers, rollbacks int) {
	t.Helper()
	runs := simRuns(6, 2)
	start := time.Now()
	edits, dropped, slowest := 0, 0, 0
	for i := range runs {
		p := DefaultPartition(firstSeed + uint64(i))
		p.Standby, p.AdminCutOff = standby, i%2 == 0
		res, err := p.Run()
		if err != nil {
			t.Fatalf("seed %d (admin cut off %v): %v", p.Seed, p.AdminCutOff, err)
		}
		if err := res.Check(); err != nil {
			t.Fatalf("seed %d (admin cut off %v): %v (%s)", p.Seed, p.AdminCutOff, err, res.Summary())
		}
		if res.Net.Dropped == 0 {
			t.Fatalf("seed %d: the cut dropped no message", p.Seed)
		}
		if res.Takeover >= 0 {
			takeovers++
			if !p.AdminCutOff {
				t.Fatalf("seed %d: a takeover with the admin beside the sequencer", p.Seed)
			}
		}
		edits += res.Edits()
		dropped += res.Net.Dropped
		rollbacks += res.Rollbacks
		slowest = max(slowest, res.Healed)
		if i < 2 {
			t.Logf("seed %d (admin cut off %v): %s", p.Seed, p.AdminCutOff, res.Summary())
		}
	}
	t.Logf("%d seeded runs passed in %v: %d acknowledged edits, each present exactly once and in order; %d takeovers, %d rollbacks, %d messages dropped by the cuts; every clone agreed at most %d ticks (%v virtual, checked every 2 s) after the heal, edits going on for 100 of them",
		runs, time.Since(start).Round(time.Millisecond), edits, takeovers, rollbacks, dropped, slowest, time.Duration(slowest)*tickTime)
	return takeovers, rollbacks
}

// TestPartitionHeal cuts the clones into two halves for 30 s of virtual
// time while every clone edits, with no standby: the half without the
// sequencer buffers its edits and catches up after the heal. 6 seeds by
// default, C2C_SIM_RUNS=200 for the full run.
func TestPartitionHeal(t *testing.T) {
	if takeovers, _ := partitionRuns(t, false, 11_000); takeovers != 0 {
		t.Fatalf("%d takeovers without a standby", takeovers)
	}
}

// TestPartitionSplitBrain is TestPartitionHeal with a standby sequencer in
// the cut-off half: when the admin is there too, its stall alarm makes it
// take over, both halves commit, and after the heal the sequencer's half
// rolls back to follow the takeover.
func TestPartitionSplitBrain(t *testing.T) {
	takeovers, rollbacks := partitionRuns(t, true, 13_000)
	if takeovers == 0 || rollbacks == 0 {
		t.Fatalf("%d takeovers, %d rollbacks: no split brain was healed", takeovers, rollbacks)
	}
}
