package docsync_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

// TestRestoreAfterEveryReadyPrefix is the crash-consistency property of the
// pure core: whatever prefix of a replica's Ready stream was persisted when
// the process died, Restore from it succeeds and yields the live replica's
// text, and a run that keeps crashing clones at random points still loses no
// acknowledged edit and applies none twice. Schedules are random: clones edit
// while their envelope is in flight (so the buffer fills) and each clone
// receives ordered entries at its own pace (so committed remote entries
// transform a non-empty buffer).
func TestRestoreAfterEveryReadyPrefix(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 4
	}
	for seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { crashRestoreRun(t, uint64(seed)) })
	}
}

func crashRestoreRun(t *testing.T, seed uint64) {
	w, a, b, c := threeMembers(t)
	clones := []*clone{a, b, c}
	rng := rand.New(rand.NewPCG(seed, 99))
	inbox := make([][]*docsync.Entry, len(clones)) // ordered, not yet delivered to clone i
	var tokens []string
	next := rune(0xE000)        // single private-use code points: an insert cannot split a token
	withBuffer, crashes := 0, 0 // restores whose pending held an in-flight envelope and a buffer

	checkRestore := func(i int) *docsync.Replica {
		t.Helper()
		x := clones[i]
		r2, err := docsync.Restore(docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: x.id,
			Rand: seededReader{rng}}, x.entries, persisted(t, x.pending))
		if err != nil {
			t.Fatalf("clone %d: restore after %d entries: %v", i, len(x.entries), err)
		}
		if r2.Text() != x.r.Text() {
			t.Fatalf("clone %d: restored text %q, live %q", i, r2.Text(), x.r.Text())
		}
		if p := x.pending; p != nil && p.InFlight != nil && p.Buffer != nil {
			withBuffer++
		}
		return r2
	}
	const steps = 150
	for step := 0; step < steps; step++ {
		i := rng.IntN(len(clones))
		x := clones[i]
		switch k := rng.IntN(10); {
		case k < 4: // a local edit
			tok := string(next)
			next++
			op, err := ot.FromPatch(x.r.LocalLen(), rng.IntN(x.r.LocalLen()+1), 0, tok)
			if err != nil {
				t.Fatal(err)
			}
			if err := x.r.Propose(op); err != nil {
				t.Fatalf("clone %d propose: %v", i, err)
			}
			tokens = append(tokens, tok)
			w.drain(x)
		case k < 6: // the sequencer orders what was submitted; every clone will see it
			for _, e := range w.order() {
				for j := range inbox {
					inbox[j] = append(inbox[j], e)
				}
			}
		case k < 9: // clone i receives its next ordered entries
			n := min(len(inbox[i]), 1+rng.IntN(3))
			for _, e := range inbox[i][:n] {
				_ = x.r.HandleEntry(e)
				w.drain(x)
				checkRestore(i)
			}
			inbox[i] = inbox[i][n:]
		default: // kill -9: clone i restarts from what it persisted
			x.r = checkRestore(i)
			crashes++
			w.drain(x) // the restored replica resends its in-flight envelope
		}
		checkRestore(i)
	}
	for i := range clones { // deliver what each clone has not seen yet, then settle

		for _, e := range inbox[i] {
			_ = clones[i].r.HandleEntry(e)
			w.drain(clones[i])
		}
	}
	w.settle()
	if withBuffer == 0 || crashes == 0 {
		t.Fatalf("schedule too tame: %d restores with a buffer, %d crashes", withBuffer, crashes)
	}
	want := a.r.Text()
	for i, x := range clones {
		if x.r.Text() != want || x.r.CommittedText() != want {
			t.Fatalf("clone %d text %q committed %q, want %q", i, x.r.Text(), x.r.CommittedText(), want)
		}
	}
	for _, tok := range tokens {
		if n := strings.Count(want, tok); n != 1 {
			t.Fatalf("acknowledged edit %q found %d times in the final text", tok, n)
		}
	}
	if got, want := len([]rune(want)), len(tokens); got != want {
		t.Fatalf("final text has %d code points, %d edits were acknowledged", got, want)
	}
}

// persisted round-trips p through its encoding, as a restart reads it from disk.
func persisted(t *testing.T, p *docsync.Pending) *docsync.Pending {
	t.Helper()
	if p == nil {
		return nil
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	q, err := docsync.DecodePending(b)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
