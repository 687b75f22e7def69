package docsync_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

// edits has random clones type and delete at random places, delivering
// ordered entries only every few steps, so envelopes are made on stale
// parents and committed entries are transformed.
func edits(w *world, rng *rand.Rand, writers []*clone, steps int) {
	for i := range steps {
		x := writers[rng.IntN(len(writers))]
		n := x.r.LocalLen()
		var op ot.Op
		var err error
		if n > 4 && rng.IntN(4) == 0 {
			op, err = ot.FromPatch(n, rng.IntN(n-2), 2, "")
		} else {
			op, err = ot.FromPatch(n, rng.IntN(n+1), 0, string(rune('a'+rng.IntN(26))))
		}
		if err != nil {
			w.t.Fatal(err)
		}
		if err := x.r.Propose(op); err != nil {
			w.t.Fatal(err)
		}
		w.drain(x)
		if i%5 == 4 {
			w.deliver(w.order())
		}
	}
	w.settle()
}

// snapshotMidFlight commits envelopes of b and c made on one parent, lets
// a see only the first, and has a seal its snapshot there: the second
// entry's parent is before the snapshot's seq.
func snapshotMidFlight(t *testing.T, w *world, a, b, c *clone) *docsync.SealedSnapshot {
	t.Helper()
	for _, x := range []*clone{b, c} {
		if err := w.insert(x, 0, "<"+fmt.Sprint(x == b)+">"); err != nil {
			t.Fatal(err)
		}
	}
	es := w.order()
	if len(es) != 2 || es[1].Envelope.Parent >= es[0].Head.Seq {
		t.Fatalf("want two entries on one parent, got %d", len(es))
	}
	_ = a.r.HandleEntry(es[0])
	w.drain(a)
	s, err := a.r.SealSnapshot(docsync.DefaultSnapshotWindow)
	if err != nil {
		t.Fatal(err)
	}
	w.deliver(es)
	return s
}

type joinCase struct {
	name       string
	addBefore  bool // the joiner is a member at the snapshot's seq
	epochBump  bool // a removal before the snapshot starts epoch 2
	historyLen int
}

// TestJoinFromSnapshotMatchesReplay: a replica joined from a snapshot plus
// the tail ends with the text, chain, counters and membership of one that
// replayed every entry from seq 1, then edits like any other member.
func TestJoinFromSnapshotMatchesReplay(t *testing.T) {
	for _, tc := range []joinCase{
		{"member-before-snapshot", true, false, 60},
		{"added-in-tail", false, false, 60},
		{"after-epoch-change", true, true, 200},
		{"added-in-tail-after-epoch-change", false, true, 40},
	} {
		t.Run(tc.name, func(t *testing.T) { joinRun(t, tc) })
	}
}

func joinRun(t *testing.T, tc joinCase) {
	w, a, b, c := threeMembers(t)
	rng := rand.New(rand.NewPCG(7, uint64(tc.historyLen)))
	if tc.epochBump {
		x := w.add(a, docsync.RoleWriter)
		edits(w, rng, []*clone{a, b, c, x}, 20)
		if err := a.r.RemoveMember(x.r.ID()); err != nil {
			t.Fatal(err)
		}
		w.drain(a)
		w.settle()
		w.clones = w.clones[:3]
	}
	edits(w, rng, []*clone{a, b, c}, tc.historyLen)
	joinerID, err := docsync.NewIdentity(seededReader{rng})
	if err != nil {
		t.Fatal(err)
	}
	addJoiner := func() {
		if err := a.r.AddMember(joinerID.ID(), joinerID.HPKEPublic(), docsync.RoleWriter); err != nil {
			t.Fatal(err)
		}
		w.drain(a)
		w.settle()
	}
	if tc.addBefore {
		addJoiner()
	}
	snap := snapshotMidFlight(t, w, a, b, c)
	edits(w, rng, []*clone{a, b, c}, 30)
	if !tc.addBefore {
		addJoiner()
	}
	edits(w, rng, []*clone{a, b, c}, 10)

	all := w.seq.Entries()
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: joinerID, Rand: seededReader{rng}}
	replay, err := docsync.Restore(cfg, all, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := docsync.DecodeSealedSnapshot(snap.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	trusted := func(m docsync.MemberID) bool { return m == a.r.ID() }
	j, err := docsync.Join(cfg, got, trusted)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all[snap.Seq():] {
		if err := j.HandleEntry(e); err != nil {
			t.Fatalf("tail seq %d: %v", e.Head.Seq, err)
		}
	}
	sameState(t, j, replay)
	if j.Text() != a.r.Text() {
		t.Fatalf("joined text %q, members have %q", j.Text(), a.r.Text())
	}
	// The joiner edits and everyone converges.
	jc := &clone{id: joinerID, r: j}
	j.Advance()
	w.clones = append(w.clones, jc)
	if err := w.insert(jc, 0, "J"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	for _, x := range w.clones {
		if x.r.Text() != a.r.Text() || x.r.Log().HeadHash() != a.r.Log().HeadHash() {
			t.Fatalf("diverged after the joiner's edit: %q vs %q", x.r.Text(), a.r.Text())
		}
	}
}

// sameState compares what a replica continues from.
func sameState(t *testing.T, got, want *docsync.Replica) {
	t.Helper()
	gl, wl := got.Log(), want.Log()
	if got.Text() != want.Text() || got.Applied() != want.Applied() {
		t.Fatalf("text %q at %d, replay %q at %d", got.Text(), got.Applied(), want.Text(), want.Applied())
	}
	if gl.Seq() != wl.Seq() || gl.HeadHash() != wl.HeadHash() {
		t.Fatalf("chain at %d %v, replay at %d %v", gl.Seq(), gl.HeadHash(), wl.Seq(), wl.HeadHash())
	}
	if !reflect.DeepEqual(gl.Membership().Members(), wl.Membership().Members()) || gl.Membership().Epoch() != wl.Membership().Epoch() {
		t.Fatal("membership differs from the replay's")
	}
	for _, m := range wl.Membership().Members() {
		if gl.Counter(m.ID) != wl.Counter(m.ID) {
			t.Fatalf("counter of %v: %d, replay %d", m.ID, gl.Counter(m.ID), wl.Counter(m.ID))
		}
	}
	if !got.HasEpochKey(wl.Membership().Epoch()) {
		t.Fatal("joiner holds no key of the current epoch")
	}
}

// TestRestoreFromSnapshot: a replica that kept a snapshot and the entries
// after it restores to the live state.
func TestRestoreFromSnapshot(t *testing.T) {
	w, a, b, c := threeMembers(t)
	rng := rand.New(rand.NewPCG(3, 3))
	edits(w, rng, []*clone{a, b, c}, 50)
	snap := snapshotMidFlight(t, w, a, b, c)
	edits(w, rng, []*clone{a, b, c}, 30)
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: b.id, Rand: seededReader{rng}}
	r, err := docsync.RestoreFromSnapshot(cfg, snap, b.entries[snap.Seq():], persisted(t, b.pending))
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, r, b.r)
	if _, err := docsync.RestoreFromSnapshot(cfg, snap, b.entries[snap.Seq()+1:], nil); !errors.Is(err, docsync.ErrGap) {
		t.Fatalf("a gap after the snapshot: %v, want ErrGap", err)
	}
}
