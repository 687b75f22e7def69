package netsim

import (
	"context"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/ot"
)

// A subscriber that applies the update events to its own copy of the text
// (what a device does) ends with the clone's text.
func TestUpdateEventsRebuildTheText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		a, b, c := n.AddClone(), n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, a, b, c)
		mirror, err := c.Svc.Text(d.ID)
		if err != nil {
			t.Fatal(err)
		}
		events, cancel, err := c.Svc.Subscribe(d.ID)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan int)
		go func() {
			updates := 0
			for ev := range events {
				if ev.Lost > 0 {
					t.Errorf("lost %d events", ev.Lost)
				}
				if ev.Kind == cloneservice.EventUpdate {
					updates++
					if mirror, err = ot.ApplyString(mirror, *ev.Op); err != nil {
						t.Errorf("update at seq %d does not apply to the mirror: %v", ev.Seq, err)
					}
				}
			}
			done <- updates
		}()
		rng := rand.New(rand.NewPCG(41, 42))
		for i := range 60 {
			if err := []*Clone{a, b}[i%2].Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		}
		d.WaitConverged(time.Minute)
		cancel()
		updates := <-done
		txt, _ := c.Svc.Text(d.ID)
		if mirror != txt {
			t.Fatalf("mirror built from %d update events differs from the clone's text", updates)
		}
		t.Logf("%d update events rebuild the %d-rune text", updates, Runes(txt))
	})
}
