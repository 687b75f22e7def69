package netsim

import (
	"context"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

// A clone that was offline catches up from member clones while the
// sequencer is gone: entries verify end to end, so any member may serve them.
func TestCatchUpFromMembersWithoutSequencer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		a, b, c := n.AddClone(), n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, a, b, c)
		before, _ := c.Svc.Info(d.ID)
		c.StopService() // offline while the others edit
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(31, 32))
		for i := range 40 {
			if err := []*Clone{a, b}[i%2].Svc.EditFunc(ctx, d.ID, RandomEdit(rng)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		}
		d.Clones = []*Clone{a, b}
		d.WaitConverged(time.Minute)
		want, _ := a.Svc.Info(d.ID)
		served := seq.Svc.Stats().Served
		seq.StopService() // the sequencer is gone: no history, no new entries

		n.StartClone(c)
		WaitUntil(t, time.Minute, "the offline clone catches up from members", func() bool {
			in, err := c.Svc.Info(d.ID)
			return err == nil && in.Seq == want.Seq && in.Head == want.Head && in.Applied == in.Seq
		})
		ta, _ := a.Svc.Text(d.ID)
		tc, _ := c.Svc.Text(d.ID)
		if ta != tc {
			t.Fatal("caught-up clone's text differs")
		}
		if got := a.Svc.Stats().Served + b.Svc.Stats().Served; got < want.Seq-before.Seq {
			t.Fatalf("members served %d entries, want at least %d", got, want.Seq-before.Seq)
		}
		t.Logf("clone caught up to seq %d from members (they served %d entries; the sequencer served %d before it left)",
			want.Seq, a.Svc.Stats().Served+b.Svc.Stats().Served, served)
	})
}
