package netsim

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// editConcurrently has every clone make edits random edits in its own
// goroutine, pausing 0..pause between them (virtual time).
func editConcurrently(t *testing.T, d *Doc, seed uint64, edits int, pause time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	for i, c := range d.Clones {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range edits {
				if err := c.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)); err != nil {
					t.Errorf("clone %d edit: %v", i, err)
					return
				}
				time.Sleep(time.Duration(rng.Int64N(int64(pause))))
			}
		}()
	}
	wg.Wait()
}

// 16 clones and a sequencer on the simulated network, every clone editing
// concurrently: all end with the same text, seq and chain head.
func TestConverge16Clones(t *testing.T) {
	edits := 20
	if testing.Short() {
		edits = 8
	}
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		clones := n.AddClones(16)
		d := n.NewDoc(seq, clones...)
		start := time.Now()
		editConcurrently(t, d, 7, edits, 100*time.Millisecond)
		d.WaitConverged(2 * time.Minute)
		in, _ := clones[0].Svc.Info(d.ID)
		txt, _ := clones[0].Svc.Text(d.ID)
		var rejected, forks uint64
		for _, c := range clones {
			st := c.Svc.Stats()
			rejected += st.Rejected
			forks += st.Forks
		}
		if rejected != 0 || forks != 0 {
			t.Fatalf("honest run: %d rejected entries, %d forks", rejected, forks)
		}
		members, _ := clones[0].Svc.Members(d.ID)
		if len(members) != 16 {
			t.Fatalf("%d members, want 16", len(members))
		}
		t.Logf("16 clones x %d edits: converged at seq %d (head %v), %d runes, %v virtual time; sequencer %+v",
			edits, in.Seq, in.Head, Runes(txt), time.Since(start), seq.Svc.Stats())
	})
}
