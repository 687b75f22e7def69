package docsync_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

// othersEdit has x insert a lowercase letter or delete one, never inside
// or of the upper-case marks of the test.
func othersEdit(t *testing.T, w *world, rng *rand.Rand, x *clone) {
	t.Helper()
	rs := []rune(x.r.Text())
	var op ot.Op
	var err error
	if p := rng.IntN(len(rs) + 1); rng.IntN(4) == 0 && p < len(rs) && unicode.IsLower(rs[p]) {
		op, err = ot.FromPatch(len(rs), p, 1, "")
	} else {
		if p > 0 && !unicode.IsLower(rs[p-1]) && rs[p-1] != ' ' {
			p = len(rs)
		}
		op, err = ot.FromPatch(len(rs), p, 0, string(rune('a'+rng.IntN(26))))
	}
	if err == nil {
		err = x.r.Propose(op)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.drain(x)
}

// TestJumpFromSnapshotRebasesPending: a clone offline with an envelope in
// flight and a buffer, while the others edit far past it, continues from a
// later snapshot (its own entries after its head are never given to it);
// its edits, inserts and a delete, are rebased onto the snapshot's text and
// end up exactly once in every member's text:
//   - lost: its envelope never reached the sequencer;
//   - committed: the sequencer ordered it before the snapshot, the clone
//     never saw the entry;
//   - late: the old envelope reaches the sequencer after the jump and
//     commits instead of the rebased one, which is refused (same counter).
func TestJumpFromSnapshotRebasesPending(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window int
	}{{"lost", 16}, {"committed", 16}, {"late", 1024}} {
		t.Run(tc.name, func(t *testing.T) {
			w, a, b, c := threeMembers(t)
			rng := rand.New(rand.NewPCG(7, uint64(len(tc.name))))
			if err := w.insert(a, 0, "HEAD the text TAIL"); err != nil {
				t.Fatal(err)
			}
			w.settle()
			k := c.r.Log().Seq()
			// c goes offline with "<C1>" in flight, then buffers "<C2>" and
			// the deletion of "HEAD".
			if err := w.insert(c, 5, "<C1>"); err != nil {
				t.Fatal(err)
			}
			old := w.outbox[len(w.outbox)-1]
			w.clones = []*clone{a, b}
			switch tc.name {
			case "committed":
				w.deliver(w.order())
			default:
				w.outbox = w.outbox[:len(w.outbox)-1]
			}
			if err := w.insert(c, c.r.LocalLen(), "<C2>"); err != nil {
				t.Fatal(err)
			}
			del, err := ot.FromPatch(c.r.LocalLen(), 0, 4, "")
			if err != nil || c.r.Propose(del) != nil {
				t.Fatal("delete HEAD", err)
			}
			w.drain(c)
			if len(w.outbox) != 0 {
				t.Fatalf("c submitted while in flight: %d", len(w.outbox))
			}
			for i := range 150 {
				othersEdit(t, w, rng, []*clone{a, b}[i%2])
				if i%3 == 2 {
					w.settle()
				}
			}
			w.settle()
			snap, err := a.r.SealSnapshot(tc.window)
			if err != nil {
				t.Fatal(err)
			}
			if snap.Seq()-uint64(tc.window) <= k && tc.name != "late" {
				t.Fatalf("the window %d of the snapshot at %d reaches c's head %d", tc.window, snap.Seq(), k)
			}
			for i := range 10 {
				othersEdit(t, w, rng, []*clone{a, b}[i%2])
			}
			w.settle()

			before := c.r.Text()
			nc, err := c.r.JumpFromSnapshot(snap, func(m docsync.MemberID) bool { return m == a.r.ID() })
			if err != nil {
				t.Fatal(err)
			}
			rd := nc.Ready()
			if len(rd.Updates) != 1 || len(rd.Submit) != 1 || rd.Pending == nil {
				t.Fatalf("jump Ready: %d updates, %d submits, pending %v", len(rd.Updates), len(rd.Submit), rd.Pending)
			}
			if dev, err := ot.ApplyString(before, rd.Updates[0].Op); err != nil || dev != nc.Text() {
				t.Fatalf("device text %q after the update, replica %q (%v)", dev, nc.Text(), err)
			}
			if re := rd.Submit[0]; tc.name == "committed" && re.Counter <= old.Counter ||
				tc.name != "committed" && re.Counter != old.Counter {
				t.Fatalf("%s: resent under counter %d, the old envelope had %d", tc.name, re.Counter, old.Counter)
			}
			if tc.name == "late" {
				w.outbox = append([]*docsync.Envelope{old}, w.outbox...) // the old one first
			}
			c.r, c.pending = nc, nil
			w.drain(c)
			for _, e := range w.seq.Entries()[snap.Seq():] {
				_ = c.r.HandleEntry(e)
				w.drain(c)
			}
			w.clones = []*clone{a, b, c}
			w.settle()
			w.outbox = append(w.outbox, old) // a replay of the old envelope commits nothing
			w.settle()
			for _, x := range []*clone{a, b, c} {
				if x.r.Text() != a.r.Text() || x.r.Log().HeadHash() != a.r.Log().HeadHash() || x.r.Busy() {
					t.Fatalf("clones differ: %q / %q (busy %v)", x.r.Text(), a.r.Text(), x.r.Busy())
				}
			}
			for _, e := range w.seq.Entries() {
				if e.Envelope.Author == c.r.ID() && e.Envelope.Counter == old.Counter &&
					(e.Envelope.Digest() == old.Digest()) != (tc.name != "lost") {
					t.Fatalf("%s: the entry of counter %d is the old envelope: %v", tc.name, old.Counter, tc.name != "lost")
				}
			}
			txt := a.r.Text()
			for _, s := range []string{"<C1>", "<C2>", "TAIL"} {
				if strings.Count(txt, s) != 1 {
					t.Fatalf("%q %d times in %q", s, strings.Count(txt, s), txt)
				}
			}
			if strings.Contains(txt, "HEAD") {
				t.Fatalf("c's deletion of HEAD was lost: %q", txt)
			}
		})
	}
}
