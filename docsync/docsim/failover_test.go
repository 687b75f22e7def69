package docsim

import "testing"

// TestFailoverUnderLoad runs the failover scenario (planned handover,
// stall, takeover by the standby, a writer killed and restored) over
// seeded networks: 20 seeds by default, C2C_SIM_RUNS=200 for the full run.
func TestFailoverUnderLoad(t *testing.T) {
	runs := simRuns(20, 20)
	acked := 0
	for i := range runs {
		f := DefaultFailover(uint64(7000 + i))
		res, err := f.Run()
		if err != nil {
			t.Fatalf("seed %d: %v", f.Seed, err)
		}
		if err := res.Check(); err != nil {
			t.Fatalf("seed %d: %v (%s)", f.Seed, err, res.Summary())
		}
		for _, a := range res.Acked {
			acked += len(a)
		}
		if i == 0 {
			t.Logf("seed %d: %s", f.Seed, res.Summary())
		}
	}
	t.Logf("%d seeded runs passed, %d acknowledged edits in all, each present exactly once and in order", runs, acked)
}

// TestFailoverConflict is TestFailoverUnderLoad with the admin's clone cut
// off just before the stall: the takeover continues from an older head
// than the other members', who follow it by rolling back.
func TestFailoverConflict(t *testing.T) {
	runs := simRuns(20, 20)
	acked, rollbacks := 0, 0
	for i := range runs {
		f := DefaultFailover(uint64(9000 + i))
		f.Conflict = true
		res, err := f.Run()
		if err != nil {
			t.Fatalf("seed %d: %v", f.Seed, err)
		}
		if err := res.Check(); err != nil {
			t.Fatalf("seed %d: %v (%s)", f.Seed, err, res.Summary())
		}
		for _, a := range res.Acked {
			acked += len(a)
		}
		rollbacks += res.Rollbacks
	}
	if rollbacks == 0 {
		t.Fatal("no run needed a rollback: the scenario does not cut the admin off")
	}
	t.Logf("%d seeded runs passed, %d rollbacks, %d acknowledged edits in all, each present exactly once and in order", runs, rollbacks, acked)
}
