package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// forkMembers is how many clones share the forked document.
const forkMembers = 6

// fork runs a document on an equivocating sequencer and reports which
// clones raised the fork alarm and how fast.
func (d *docDemo) fork(ctx context.Context) error {
	victims := map[docsync.MemberID]bool{}
	for i := range forkMembers {
		if i%2 == 1 {
			victims[d.svcs[i].ID()] = true
		}
	}
	var byz atomic.Pointer[seqtest.Observed] // set on the sequencer's loop
	seqNode, seqSvc, err := d.startSequencer(ctx, "sequencer-forking", seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
		b := sequencer.NewByzantine(doc, key, sequencer.Equivocate, forkMembers+4)
		b.Victims = func(m docsync.MemberID) bool { return victims[m] }
		f := seqtest.Observe(b)
		byz.Store(f)
		return f
	}))
	if err != nil {
		return err
	}
	idx := make([]int, 0, forkMembers-1)
	for i := 1; i < forkMembers; i++ {
		idx = append(idx, i)
	}
	doc, err := d.share(ctx, seqNode.AddrInfo(), idx)
	if err != nil {
		return err
	}
	d.progress("forking sequencer: document %s shared by clones 0-%d; it equivocates from seq %d (clones 1, 3, 5 get the other branch)", doc.String(), forkMembers-1, forkMembers+4)

	var mu sync.Mutex
	alarms := make([]time.Time, forkMembers)
	var readers sync.WaitGroup
	var cancels []func()
	for i := range forkMembers {
		ch, cancel, err := d.svcs[i].Subscribe(doc)
		if err != nil {
			return err
		}
		cancels = append(cancels, cancel)
		readers.Add(1)
		go func() {
			defer readers.Done()
			for ev := range ch {
				if ev.Kind == cloneservice.EventAlarm {
					mu.Lock()
					if alarms[i].IsZero() {
						alarms[i] = ev.Time
					}
					mu.Unlock()
				}
			}
		}()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range forkMembers {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(50+rng.IntN(100)) * time.Millisecond):
				}
				// Fails once the clone halted on the alarm: expected.
				_ = d.svcs[i].EditFunc(ctx, doc, insertAt(rng, "x"))
			}
		}()
	}
	allAlarmed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !slices.ContainsFunc(alarms, time.Time.IsZero)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	werr := poll(wctx, "fork alarm at every clone", allAlarmed)
	cancel()
	close(stop)
	wg.Wait()
	for _, c := range cancels {
		c()
	}
	readers.Wait()

	var at time.Time
	if f := byz.Load(); f != nil {
		at, _ = f.MisbehavedAt()
	}
	var delays []time.Duration
	var who []string
	for i, t := range alarms {
		in, _ := d.svcs[i].Info(doc)
		proof := "no proof"
		if in.Halted != nil {
			proof = "proof verifies"
			if err := in.Halted.Verify(seqSvc.PublicKey()); err != nil {
				proof = "proof INVALID"
			}
		}
		if t.IsZero() {
			who = append(who, fmt.Sprintf("clone %d: no alarm", i))
			continue
		}
		delays = append(delays, t.Sub(at))
		branch := "main"
		if victims[d.svcs[i].ID()] {
			branch = "fork"
		}
		who = append(who, fmt.Sprintf("clone %d (%s branch) after %v, %s", i, branch, t.Sub(at).Round(time.Millisecond), proof))
	}
	w := d.w
	fmt.Fprintf(w, "Forking sequencer (equivocation, real stack)\n")
	fmt.Fprintf(w, "  %-28s %d/%d clones\n", "fork alarm raised by", len(delays), forkMembers)
	fmt.Fprintf(w, "  %-28s p50 %v, max %v (after its first forked entry)\n", "alarm delay", percentile(delays, 0.5), percentile(delays, 1))
	fmt.Fprintf(w, "  %s\n", strings.Join(who, "\n  "))
	return werr
}
