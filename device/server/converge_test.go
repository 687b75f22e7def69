package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/direct"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/marcopolo/simnet"
)

// directClone starts a clone engine on a device address (its links get the
// device delays): a direct-mode device.
func (w *world) directClone() *netsim.Clone {
	w.mu.Lock()
	w.dev++
	ip := simnet.IntToPublicIPv4(deviceIPBase + w.dev)
	w.devIPs[ip.String()] = true
	w.mu.Unlock()
	p := w.n.StartPeer(nil, nil, ip.String())
	c := w.n.AddCloneOn(p)
	w.t.Cleanup(c.Close)
	return c
}

// Four devices, two in clone mode (one going offline now and then) and two
// in direct mode, edit one document concurrently over device links with
// random per-packet delays; they end with the same text as every clone.
func TestFourDevicesConverge(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { fourDevices(t, seed) })
		})
	}
}

func fourDevices(t *testing.T, seed uint64) {
	const edits = 40
	w := newWorld(t, seed, 10*time.Millisecond, 5*time.Millisecond, 80*time.Millisecond)
	seq := w.sequencer()
	a, b := w.clone(), w.clone()
	c, d := w.directClone(), w.directClone()
	doc := w.n.NewDoc(seq, a, b, c, d)
	ea, eb := w.enroll(a, "phone"), w.enroll(b, "tablet")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var devs []device.Doc
	var linked []*client.Doc
	for _, e := range []*enrolled{ea, eb} {
		_, dc := w.device(e)
		dd, err := dc.Open(ctx, doc.ID)
		if err != nil {
			t.Fatal(err)
		}
		devs, linked = append(devs, dd), append(linked, dd)
	}
	for _, cl := range []*netsim.Clone{c, d} {
		dd, err := direct.Open(cl.Svc, doc.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(dd.Close)
		devs = append(devs, dd)
	}

	var wg sync.WaitGroup
	errs := make([]error, len(devs))
	for i, dv := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for range edits {
				if err := dv.EditFunc(netsim.RandomEdit(rng)); err != nil {
					errs[i] = err
					return
				}
				time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
				if cd, ok := dv.(*client.Doc); ok && i == 0 && rng.IntN(8) == 0 {
					cd.Disconnect() // edits meanwhile are buffered
					time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
					_ = cd.EditFunc(netsim.RandomEdit(rng))
					if err := cd.Connect(ctx); err != nil {
						errs[i] = err
						return
					}
				}
			}
			errs[i] = dv.WaitSynced(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
	}
	doc.WaitConverged(5 * time.Minute)
	want, _ := a.Svc.Text(doc.ID)
	for _, ld := range linked {
		if err := ld.WaitText(ctx, func(s string) bool { return s == want }); err != nil {
			t.Fatalf("clone-mode device: %v: %q vs %q", err, ld.Text(), want)
		}
	}
	for i, dv := range devs {
		if got := dv.Text(); got != want {
			t.Fatalf("device %d: %q, clones %q", i, got, want)
		}
	}
	st := linked[0].Stats()
	t.Logf("seed %d: %d runes everywhere; device 0: %d bundles, %d ops, %d acks, %d B sent, %d B received",
		seed, netsim.Runes(want), st.Bundles, st.Ops, st.Acks, st.BytesSent, st.BytesReceived)
}
