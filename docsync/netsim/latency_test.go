package netsim

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
)

// TestLatency16Clones measures end-to-end edit latency (Edit called at
// clone A -> the update applied at clone B) with 16 clones on the simulated
// network (20 ms one-way links), while the 14 other clones edit at random.
// Time is virtual: it is what the links and the protocol cost, not the CPU
// of this machine. It is a measurement, not a default test:
//
//	C2C_DOCBENCH=1 go test -run TestLatency16Clones -v ./docsync/netsim
func TestLatency16Clones(t *testing.T) {
	if os.Getenv("C2C_DOCBENCH") != "1" || testing.Short() {
		t.Skip("set C2C_DOCBENCH=1 to run the latency measurement")
	}
	const samples = 300
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		clones := n.AddClones(16)
		d := n.NewDoc(seq, clones...)
		a, b := clones[1], clones[2]
		updates, cancel, err := b.Svc.Subscribe(d.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()

		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i, c := range clones[3:] {
			rng := rand.New(rand.NewPCG(11, uint64(i)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(20+rng.IntN(200)) * time.Millisecond):
					}
					_ = c.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng))
				}
			}()
		}
		rng := rand.New(rand.NewPCG(12, 13))
		var lat []time.Duration
		for range samples {
			start := time.Now()
			if err := a.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)); err != nil {
				t.Fatal(err)
			}
			for got := false; !got; {
				select {
				case ev := <-updates:
					got = ev.Kind == cloneservice.EventUpdate && ev.Author == a.Svc.ID()
				case <-time.After(time.Minute):
					t.Fatal("update not received")
				}
			}
			lat = append(lat, time.Since(start))
			time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		d.WaitConverged(time.Minute)
		slices.Sort(lat)
		in, _ := a.Svc.Info(d.ID)
		t.Logf("16 clones, %d samples, log at seq %d: edit at A -> applied at B: p50 %v, p99 %v, max %v (virtual time, 20 ms one-way links)",
			samples, in.Seq, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
	})
}
