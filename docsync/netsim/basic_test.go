package netsim

import (
	"context"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

// Three clones create, join and edit one document through the sequencer.
func TestThreeClonesEdit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		clones := []*Clone{n.AddClone(), n.AddClone(), n.AddClone()}
		d := n.NewDoc(seq, clones...)
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 30 {
			c := clones[i%3]
			if err := c.Svc.EditFunc(ctx, d.ID, RandomEdit(rng)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		}
		d.WaitConverged(time.Minute)
		txt, _ := clones[0].Svc.Text(d.ID)
		in, _ := clones[0].Svc.Info(d.ID)
		t.Logf("seq %d, text %d runes", in.Seq, Runes(txt))
	})
}
