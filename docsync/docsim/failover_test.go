package docsim

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

// joinsAfterMoves checks that a writer rejoining from the admin's final
// snapshot, whose key schedule holds both moves, has the admin's log,
// text and sequencer, and checks the old heads with the old keys.
func joinsAfterMoves(t *testing.T, res *FailoverResult) {
	t.Helper()
	n := res.Net
	admin, w := n.Clones[0], n.Clones[1]
	snap, err := admin.Replica.SealSnapshot(docsync.DefaultSnapshotWindow)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := docsync.DecodeSealedSnapshot(snap.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	cfg := docsync.Config{Doc: n.Doc, Sequencer: n.SeqKey.Public().(ed25519.PublicKey), Identity: w.Identity, Rand: readerOf(n.Rand)}
	r, err := docsync.Join(cfg, dec, func(m docsync.MemberID) bool { return m == admin.Identity.ID() })
	if err != nil {
		t.Fatalf("join from the snapshot after %d moves: %v", len(res.Moves), err)
	}
	al := admin.Replica.Log()
	if r.Text() != admin.Replica.Text() || r.Log().HeadHash() != al.HeadHash() ||
		!bytes.Equal(r.Log().Sequencer(), al.Sequencer()) || len(r.Log().Moves()) != len(al.Moves()) {
		t.Fatalf("joined replica differs from the admin's after %d moves", len(al.Moves()))
	}
	for _, m := range al.Moves() {
		if !bytes.Equal(r.Log().KeyAt(m.From), m.Sequencer) {
			t.Fatalf("the joined schedule names another key from seq %d", m.From)
		}
	}
}

// TestFailoverUnderLoad runs the failover scenario (planned handover,
// stall, takeover by the standby, a writer killed and restored) over
// seeded networks: 20 seeds by default, C2C_SIM_RUNS=200 for the full run.
// After each run a writer rejoins from the admin's snapshot, taken after
// both moves, to the same state.
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
		joinsAfterMoves(t, res)
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
		joinsAfterMoves(t, res)
		for _, c := range res.Net.Clones {
			if c.Rollbacks == 0 {
				continue
			}
			// A clone that rolled back records the takeover's signed move too.
			s, err := c.Replica.SealSnapshot(docsync.DefaultSnapshotWindow)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := docsync.DecodeSealedSnapshot(s.Bytes()); err != nil {
				t.Fatalf("seed %d: snapshot of a clone that rolled back: %v", f.Seed, err)
			}
		}
	}
	if rollbacks == 0 {
		t.Fatal("no run needed a rollback: the scenario does not cut the admin off")
	}
	t.Logf("%d seeded runs passed, %d rollbacks, %d acknowledged edits in all, each present exactly once and in order", runs, rollbacks, acked)
}
