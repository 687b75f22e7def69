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
	"github.com/libp2p/go-libp2p/core/peer"
)

// forkMembers is how many clones share the forked document.
const forkMembers = 6

// fork runs a document on an equivocating sequencer, reports which clones
// raised the fork alarm and how fast, then recovers the document onto a
// standby sequencer while the clones keep editing, and checks that every
// acknowledged edit survived exactly once.
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
	standby, _, err := d.startSequencer(ctx, "sequencer-standby")
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
	var ackMu sync.Mutex
	var acked []rune // the tokens of the edits the clones acknowledged
	var next atomic.Int64
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
				// Refused while the clone is halted on the alarm: expected,
				// and not acknowledged.
				tok := rune(tokenBase + next.Add(1))
				if d.svcs[i].EditFunc(ctx, doc, insertAt(rng, string(tok))) == nil {
					ackMu.Lock()
					acked = append(acked, tok)
					ackMu.Unlock()
				}
			}
		}()
	}
	ackedNow := func() int { ackMu.Lock(); defer ackMu.Unlock(); return len(acked) }
	allAlarmed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !slices.ContainsFunc(alarms, time.Time.IsZero)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	werr := poll(wctx, "fork alarm at every clone", allAlarmed)
	cancel()
	var rec recovery
	if werr == nil {
		// Clone 0, the document's admin, recovers it onto the standby as
		// `c2c doc move DOC --sequencer ADDR` does; the clones keep editing.
		rec, werr = d.recoverFork(ctx, doc, standby.AddrInfo(), ackedNow)
	}
	close(stop)
	wg.Wait()
	for _, c := range cancels {
		c()
	}
	readers.Wait()
	if werr == nil {
		rec.after = len(acked) - rec.before
		werr = d.checkAllTokens(ctx, doc, acked)
	}

	var at time.Time
	if f := byz.Load(); f != nil {
		at, _ = f.MisbehavedAt()
	}
	var delays []time.Duration
	var who []string
	for i, t := range alarms {
		// The proof stays kept after the recovery (c2c doc evidence exports it).
		proof := "no proof"
		evs, _ := d.svcs[i].Evidence(doc)
		for _, ev := range evs {
			if ev.Kind == docsync.EvidenceFork {
				proof = "proof verifies"
				if err := ev.VerifyFor(seqSvc.PublicKey()); err != nil {
					proof = "proof INVALID"
				}
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
	if werr != nil {
		return werr
	}
	fmt.Fprintf(w, "  %-28s in %v, from clone 0's doc move to every clone on it (takeover at seq %d, from seq %d, which every branch shares)\n",
		"recovered onto the standby", rec.took.Round(time.Millisecond), rec.move.Seq, rec.move.Seq-1)
	fmt.Fprintf(w, "  %-28s %d clones rolled back; every clone has the same text and chain\n", "followed by", rec.rollbacks)
	fmt.Fprintf(w, "  %-28s %d before the recovery, %d after; all %d in the text exactly once, none missing\n",
		"acknowledged edits", rec.before, rec.after, rec.before+rec.after)
	return nil
}

// recovery is what recoverFork measured.
type recovery struct {
	took          time.Duration // from the admin's command to every clone on the standby
	move          docsync.Move
	before, after int // acknowledged edits before the recovery and after it
	rollbacks     int
}

// recoverFork has clone 0 move the forked document to seq (a takeover
// from the last head every member shares, docsync's recover.go) and waits
// until every clone is on it and no longer halted; editing goes on for a
// while after.
func (d *docDemo) recoverFork(ctx context.Context, doc docsync.DocID, seq peer.AddrInfo, acked func() int) (recovery, error) {
	var rec recovery
	for _, s := range d.svcs[:forkMembers] {
		rec.rollbacks -= int(s.Stats().Rollbacks)
	}
	start := time.Now()
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	mv, err := d.svcs[0].Move(mctx, doc, seq, true)
	if err != nil {
		return rec, fmt.Errorf("recover the forked document: %w", err)
	}
	rec.move = mv
	err = poll(mctx, "every clone on the standby", func() bool {
		for _, s := range d.svcs[:forkMembers] {
			if in, err := s.Info(doc); err != nil || in.Sequencer != seq.ID || in.Halted != nil {
				return false
			}
		}
		return true
	})
	if err != nil {
		return rec, err
	}
	rec.took, rec.before = time.Since(start), acked()
	for _, s := range d.svcs[:forkMembers] {
		rec.rollbacks += int(s.Stats().Rollbacks)
	}
	d.progress("forking sequencer: recovered onto the standby in %v; the clones keep editing", rec.took.Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	return rec, nil
}

// checkAllTokens waits until every clone committed its edits and they
// converged, and checks that each acknowledged token is in the text once.
func (d *docDemo) checkAllTokens(ctx context.Context, doc docsync.DocID, acked []rune) error {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for i, s := range d.svcs[:forkMembers] {
		if err := s.WaitCommitted(cctx, doc); err != nil {
			return fmt.Errorf("clone %d: %w", i, err)
		}
	}
	var text string
	err := poll(cctx, "the clones converge after the recovery", func() bool {
		t0, err := d.svcs[0].Text(doc)
		in0, _ := d.svcs[0].Info(doc)
		for _, s := range d.svcs[1:forkMembers] {
			t, err2 := s.Text(doc)
			in, _ := s.Info(doc)
			if err != nil || err2 != nil || t != t0 || in.Seq != in0.Seq || in.Head != in0.Head {
				return false
			}
		}
		text = t0
		return true
	})
	if err != nil {
		return err
	}
	count := map[rune]int{}
	for _, r := range text {
		if isToken(r) {
			count[r]++
		}
	}
	for _, tok := range acked {
		if count[tok] != 1 {
			return fmt.Errorf("acknowledged edit %U is in the text %d times after the recovery", tok, count[tok])
		}
	}
	if len(count) != len(acked) {
		return fmt.Errorf("%d edits in the text, %d acknowledged", len(count), len(acked))
	}
	return nil
}
