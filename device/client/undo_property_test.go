package client_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/device/undo"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
)

// The whole stack (devices, device links, clones, sequencer, on a
// simulated network): device A edits, deletes anything, undoes and redoes
// while B and C insert at random places; then A undoes everything. Every
// member ends with the same text, holding each code point B and C
// inserted exactly once and none of A's: A's undos took back exactly A's
// edits, never the others' text.
func TestUndoAllLeavesOnlyTheOthersText(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { undoAll(t, seed) })
	}
}

func undoAll(t *testing.T, seed uint64) {
	synctest.Test(t, func(t *testing.T) {
		n := netsim.New(t, 10*time.Millisecond)
		seq := n.AddSequencer()
		ca, cb, cc := n.AddClone(), n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, ca, cb, cc)
		_, devA := devicetest.Attach(t, n, ca, "a", client.WithUndo(0))
		_, devB := devicetest.Attach(t, n, cb, "b")
		_, devC := devicetest.Attach(t, n, cc, "c")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		var docs []*client.Doc
		for _, c := range []*client.Client{devA, devB, devC} {
			doc, err := c.Open(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, doc)
		}
		a := docs[0]
		rng := rand.New(rand.NewPCG(seed, 18))
		fresh := [3]int{}
		others := map[rune]bool{} // every code point B and C inserted
		insert := func(who int) func(int) ([]ot.Op, error) {
			return func(l int) ([]ot.Op, error) {
				rs := make([]rune, 1+rng.IntN(3))
				for i := range rs {
					rs[i] = rune(0x10000*(who+1) + fresh[who])
					fresh[who]++
					if who > 0 {
						others[rs[i]] = true
					}
				}
				op, err := ot.FromPatch(l, rng.IntN(l+1), 0, string(rs))
				return []ot.Op{op}, err
			}
		}
		for range 150 {
			switch k := rng.IntN(20); {
			case k < 5:
				if err := a.EditFunc(insert(0)); err != nil {
					t.Fatal(err)
				}
			case k < 8:
				if err := a.EditFunc(func(l int) ([]ot.Op, error) {
					if l == 0 {
						return nil, nil
					}
					pos := rng.IntN(l)
					op, err := ot.FromPatch(l, pos, min(1+rng.IntN(3), l-pos), "")
					return []ot.Op{op}, err
				}); err != nil {
					t.Fatal(err)
				}
			case k < 10:
				if err := a.Undo(); err != nil && !errors.Is(err, undo.ErrEmpty) {
					t.Fatal(err)
				}
			case k < 11:
				if err := a.Redo(); err != nil && !errors.Is(err, undo.ErrEmpty) {
					t.Fatal(err)
				}
			case k < 15:
				if err := docs[1].EditFunc(insert(1)); err != nil {
					t.Fatal(err)
				}
			case k < 19:
				if err := docs[2].EditFunc(insert(2)); err != nil {
					t.Fatal(err)
				}
			default:
				// Let the simulated network deliver some of what is in
				// flight (virtual time), so edits interleave differently.
				time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
			}
		}
		undos := 0
		for a.CanUndo() {
			if err := a.Undo(); err != nil && !errors.Is(err, undo.ErrEmpty) {
				t.Fatal(err)
			}
			undos++
		}
		for _, doc := range docs {
			if err := doc.WaitSynced(ctx); err != nil {
				t.Fatal(err)
			}
		}
		d.WaitConverged(time.Minute)
		want, _ := cb.Svc.Text(d.ID)
		for i, doc := range docs {
			if err := doc.WaitText(ctx, func(s string) bool { return s == want }); err != nil {
				t.Fatalf("device %d: %v: %q, the clones %q", i, err, doc.Text(), want)
			}
		}
		seen := map[rune]int{}
		for _, r := range want {
			seen[r]++
			if !others[r] {
				t.Fatalf("after undoing everything, %U (inserted by A) is left in %q", r, want)
			}
		}
		var missing []rune
		for r := range others {
			if seen[r] != 1 {
				missing = append(missing, r)
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			t.Fatalf("B's and C's code points not there exactly once: %U", missing)
		}
		t.Logf("seed %d: %d undos at the end; %d code points of B and C kept", seed, undos, len(others))
	})
}
