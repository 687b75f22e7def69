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
	runRecoverOf(t, fault, seed0, func(f Recover) Recover { return f })
}

// runRecoverOf is runRecover of the scenarios edit makes of the default.
// It returns the runs, the members that followed across and the runs whose
// takeover base is after the Offline member's branch left the others'.
func runRecoverOf(t *testing.T, fault sequencer.Behaviour, seed0 uint64, edit func(Recover) Recover) (runs, crossings, beyond int) {
	t.Helper()
	runs = simRuns(10, 5)
	start := time.Now()
	acked, before, rollbacks, reports, halted := 0, 0, 0, 0, 0
	for i := range runs {
		f := edit(DefaultRecover(seed0+uint64(i), fault))
		res, err := f.Run()
		if err != nil {
			t.Fatalf("%v seed %d: %v", fault, f.Seed, err)
		}
		if f.Offline > 0 && res.Base >= f.At {
			beyond++ // the offline member's branch left the others' before the base
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
		crossings += res.Crossings
		if i == 0 {
			t.Logf("%v seed %d: %s", fault, f.Seed, res.Summary())
		}
	}
	if fault == sequencer.Equivocate && halted == 0 && crossings == 0 {
		t.Fatal("no member halted by the fork rolled back: the scenario does not fork")
	}
	if fault == sequencer.Equivocate && crossings == 0 && reports <= runs*3 {
		t.Fatal("no report was asked again for earlier heads")
	}
	t.Logf("%v: %d seeded runs passed in %v: %d acknowledged edits (%d before the takeover), each present exactly once and in order; %d rollbacks (%d of members halted by a fork), %d followed across, %d head reports",
		fault, runs, time.Since(start).Round(time.Millisecond), acked, before, rollbacks, halted, crossings, reports)
	return runs, crossings, beyond
}

// TestRecoverOfflineMember: the second branch of the fork is one member,
// cut off (everything to and from it dropped) from when it raised the
// alarm until after the takeover, so the admin takes over without its
// report from a seq after its branch left the others'. Back, it finds
// the takeover from a member and follows it across (FollowAcross): every
// member ends with the same text and chain, every acknowledged edit, its
// own from its abandoned branch too, once and in order.
func TestRecoverOfflineMember(t *testing.T) {
	runs, crossings, beyond := runRecoverOf(t, sequencer.Equivocate, 14000, func(f Recover) Recover {
		f.Offline = 1 + int(f.Seed/3%3) // the crashed writer is 1 + Seed%3: it or another
		f.RejoinAfter = 3 + int(f.Seed%10)
		f.ProbeTicks = 4
		return f
	})
	t.Logf("%d of %d runs took over from a seq after the offline member's branch left the others', %d members followed across", beyond, runs, crossings)
	if crossings != beyond || beyond == 0 {
		t.Fatalf("%d runs followed across, %d had to", crossings, beyond)
	}
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
