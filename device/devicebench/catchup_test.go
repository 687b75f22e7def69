package devicebench

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/docsync/netsim"
)

// BenchmarkCatchUp10k: a device is offline while 10,000 edits land, each
// committed as its own entry; the timed part is the reconnect: the clone
// composes the bundle, sends it, the device applies it.
func BenchmarkCatchUp10k(b *testing.B) {
	// idle: the device made no edit while away (a snapshot may answer);
	// offline-edit: it typed while away (the bundle is the composition).
	b.Run("idle", func(b *testing.B) { catchUp(b, false) })
	b.Run("offline-edit", func(b *testing.B) { catchUp(b, true) })
}

func catchUp(b *testing.B, offlineEdit bool) {
	const missed = 10000
	n := netsim.NewLoopback(b)
	seq := n.AddSequencer()
	a, other := n.AddClone(), n.AddClone()
	d := n.NewDoc(seq, a, other)
	dev := devicetest.Enroll(b, n, a, "phone", nil)
	dev.Serve(b, n)
	c := dev.Start(b, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	doc, err := c.Open(ctx, d.ID)
	if err != nil {
		b.Fatal(err)
	}
	events, unsub, err := other.Svc.Subscribe(d.ID)
	if err != nil {
		b.Fatal(err)
	}
	defer unsub()
	rng := rand.New(rand.NewPCG(10, 10))
	for i := range b.N {
		b.StopTimer()
		doc.Disconnect()
		if offlineEdit {
			if err := doc.EditFunc(netsim.RandomEdit(rng)); err != nil {
				b.Fatal(err)
			}
		}
		from, _ := a.Svc.Info(d.ID)
		for range missed {
			if err := other.Svc.EditFunc(ctx, d.ID, netsim.RandomEdit(rng)); err != nil {
				b.Fatal(err)
			}
			for { // one entry per edit: wait for its commit
				in, err := other.Svc.Info(d.ID)
				if err != nil {
					b.Fatal(err)
				}
				if !in.Pending {
					break
				}
				<-events
			}
		}
		d.WaitConverged(time.Minute)
		to, _ := a.Svc.Info(d.ID)
		log, err := a.Svc.Log(d.ID, from.Seq+1, to.Seq)
		if err != nil {
			b.Fatal(err)
		}
		body := 0
		for _, e := range log {
			body += e.Size
		}
		before := doc.Stats()
		b.StartTimer()
		start := time.Now()
		if err := doc.Connect(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		st := doc.Stats()
		if err := doc.WaitSynced(ctx); err != nil {
			b.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		want, _ := a.Svc.Text(d.ID)
		if err := doc.WaitText(ctx, func(s string) bool { return s == want }); err != nil {
			b.Fatal(err)
		}
		if doc.Text() != want || st.Bundles != before.Bundles+1 {
			b.Fatalf("after catch-up: %d bundles, text equal %v", st.Bundles-before.Bundles, doc.Text() == want)
		}
		b.ReportMetric(float64(st.LastBundleBytes), "bundle-B")
		b.ReportMetric(float64(body)/float64(st.LastBundleBytes), "envelope-bodies/bundle")
		b.ReportMetric(float64(elapsed.Microseconds())/1000, "reconnect-ms")
		b.Logf("round %d: %d entries missed (%d envelope body bytes) -> 1 bundle of %d bytes (snapshot %v) in %v; text %d runes",
			i, len(log), body, st.LastBundleBytes, st.LastBundleSnapshot, elapsed, netsim.Runes(want))
	}
}
