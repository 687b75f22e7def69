package docsim

import (
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync/sequencer"
)

// runRecover runs the recovery scenario of fault over seeded networks: 10
// seeds by default, C2C_SIM_RUNS=200 for the full run.
func runRecover(t *testing.T, fault sequencer.Behaviour, seed0 uint64) {
	t.Helper()
	runs := simRuns(10, 5)
	start := time.Now()
	acked, before, rollbacks, reports, halted := 0, 0, 0, 0, 0
	for i := range runs {
		f := DefaultRecover(seed0+uint64(i), fault)
		res, err := f.Run()
		if err != nil {
			t.Fatalf("%v seed %d: %v", fault, f.Seed, err)
		}
		if err := res.Check(); err != nil {
			t.Fatalf("%v seed %d: %v (%s)", fault, f.Seed, err, res.Summary())
		}
		for _, a := range res.Acked {
			acked += len(a)
		}
		before += res.AckedBefore
		rollbacks += res.Rollbacks
		reports += res.Reports
		halted += res.HaltedRollbacks
		if i == 0 {
			t.Logf("%v seed %d: %s", fault, f.Seed, res.Summary())
		}
	}
	if fault == sequencer.Equivocate && halted == 0 {
		t.Fatal("no member halted by the fork rolled back: the scenario does not fork")
	}
	if fault == sequencer.Equivocate && reports <= runs*3 {
		t.Fatal("no report was asked again for earlier heads")
	}
	t.Logf("%v: %d seeded runs passed in %v: %d acknowledged edits (%d before the takeover), each present exactly once and in order; %d rollbacks (%d of members halted by a fork), %d head reports",
		fault, runs, time.Since(start).Round(time.Millisecond), acked, before, rollbacks, halted, reports)
}

// TestRecoverFromFork: an equivocating sequencer forks the log into two
// branches; the admin finds the common prefix from the members' heads and
// the members recover onto a standby, those on either branch rolling back.
func TestRecoverFromFork(t *testing.T) { runRecover(t, sequencer.Equivocate, 11000) }

// TestRecoverFromTamper: a sequencer-signed entry whose envelope fails its
// author's signature; recovery from the last good head.
func TestRecoverFromTamper(t *testing.T) { runRecover(t, sequencer.Tamper, 12000) }

// TestRecoverFromWithholding: the sequencer withholds one entry from
// everyone and keeps ordering after it; the admin's stall alarm moves the
// document to the standby from the last head before the hole.
func TestRecoverFromWithholding(t *testing.T) { runRecover(t, sequencer.Drop, 13000) }
