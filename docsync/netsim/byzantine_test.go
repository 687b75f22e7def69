package netsim

import (
	"context"
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// detects reports whether ev shows behaviour b.
func detects(b sequencer.Behaviour, ev cloneservice.Event) bool {
	rejected := func(target error) bool { return ev.Kind == cloneservice.EventRejected && errors.Is(ev.Err, target) }
	switch b {
	case sequencer.Equivocate:
		return ev.Kind == cloneservice.EventAlarm || rejected(docsync.ErrParentHash)
	case sequencer.Drop:
		// The gap is noticed at once; the alarm comes after StallAfter.
		return ev.Kind == cloneservice.EventStalled && errors.Is(ev.Err, cloneservice.ErrStalled)
	case sequencer.Reorder:
		return ev.Kind == cloneservice.EventAlarm || ev.Kind == cloneservice.EventRejected
	case sequencer.Duplicate, sequencer.Replay:
		return rejected(docsync.ErrReplay)
	case sequencer.Tamper:
		// Evidence kept, from the entry or from a member's gossip.
		return ev.Kind == cloneservice.EventMisbehaviour && ev.Evidence.Kind == docsync.EvidenceTamper
	case sequencer.ForgeSeq:
		return ev.Kind == cloneservice.EventMisbehaviour && ev.Evidence.Kind == docsync.EvidenceForgedSeq
	}
	return false
}

// runByzantine runs 6 clones against a sequencer misbehaving as b from seq
// 8 on, and returns each clone's detection delay after the misbehaviour.
func runByzantine(t *testing.T, b sequencer.Behaviour) []time.Duration {
	var delays []time.Duration
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		var byz *seqtest.Observed
		victims := map[docsync.MemberID]bool{}
		var vmu sync.Mutex
		seq := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
			sb := sequencer.NewByzantine(doc, key, b, 8)
			sb.Victims = func(m docsync.MemberID) bool { vmu.Lock(); defer vmu.Unlock(); return victims[m] }
			byz = seqtest.Observe(sb)
			return byz
		}))
		var clones []*Clone
		params := cloneservice.DefaultParams()
		params.StallAfter = stallAfter
		for i := range 6 {
			c := n.AddClone(cloneservice.WithParams(params))
			clones = append(clones, c)
			if i%2 == 1 {
				vmu.Lock()
				victims[c.Svc.ID()] = true
				vmu.Unlock()
			}
		}
		d := n.NewDoc(seq, clones...)

		detected := make([]time.Time, len(clones))
		var mu sync.Mutex
		var readers sync.WaitGroup
		var cancels []func()
		for i, c := range clones {
			ch, cancel, err := c.Svc.Subscribe(d.ID)
			if err != nil {
				t.Fatal(err)
			}
			cancels = append(cancels, cancel)
			readers.Add(1)
			go func() {
				defer readers.Done()
				for ev := range ch {
					mu.Lock()
					if detected[i].IsZero() && detects(b, ev) {
						detected[i] = ev.Time
					}
					mu.Unlock()
				}
			}()
		}
		allDetected := func() bool {
			mu.Lock()
			defer mu.Unlock()
			return !slices.ContainsFunc(detected, time.Time.IsZero)
		}
		// Edit until every clone detected the misbehaviour (or 20 s).
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for i, c := range clones {
			rng := rand.New(rand.NewPCG(uint64(b), uint64(i)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(50+rng.IntN(150)) * time.Millisecond):
					}
					// Errors are expected once a clone halts.
					_ = c.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng))
				}
			}()
		}
		deadline := time.Now().Add(30 * time.Second)
		for !allDetected() {
			if time.Now().After(deadline) {
				for i, c := range clones {
					in, _ := c.Svc.Info(d.ID)
					mu.Lock()
					t.Logf("clone %d victim=%v detected=%v info=%+v stats=%+v", i, i%2 == 1, !detected[i].IsZero(), in, c.Svc.Stats())
					mu.Unlock()
				}
				t.Fatalf("%v not detected by every clone after 30s", b)
			}
			time.Sleep(50 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		for _, cancel := range cancels {
			cancel()
		}
		readers.Wait()
		at, forged := byz.MisbehavedAt()
		if at.IsZero() {
			t.Fatalf("%v: the sequencer never misbehaved", b)
		}
		for i, c := range clones {
			in, err := c.Svc.Info(d.ID)
			if err != nil {
				t.Fatal(err)
			}
			log, err := c.Svc.Log(d.ID, 1, in.Seq)
			if err != nil {
				t.Fatal(err)
			}
			// No honest clone commits a forged entry (for an equivocation,
			// the victims' branch is their whole view until the alarm).
			for _, e := range log {
				if forged[e.ChainHash] && b != sequencer.Equivocate {
					t.Errorf("clone %d committed the forged entry at seq %d", i, e.Seq)
				}
			}
			switch b {
			case sequencer.Equivocate:
				if in.Halted == nil {
					t.Errorf("clone %d: no fork proof after equivocation", i)
				} else if err := in.Halted.Verify(seq.Svc.PublicKey()); err != nil {
					t.Errorf("clone %d: fork proof does not verify: %v", i, err)
				}
			case sequencer.Drop:
				if in.Missing == [2]uint64{} {
					t.Errorf("clone %d: no missing range after the drop", i)
				}
				if in.Stalled == nil {
					t.Errorf("clone %d: the stalled alarm is not raised", i)
				}
				if st := c.Svc.Stats(); st.Stalls == 0 || st.Stalled == 0 {
					t.Errorf("clone %d: stall metrics %d alarms, %d stalled now", i, st.Stalls, st.Stalled)
				}
			case sequencer.Tamper, sequencer.ForgeSeq:
				checkKeptEvidence(t, c, d.ID, b, seq.Svc.PublicKey())
			}
			delays = append(delays, detected[i].Sub(at))
		}
		if b == sequencer.Tamper || b == sequencer.ForgeSeq {
			// The evidence is on disk: a restarted clone keeps it and stays stopped.
			c := clones[0]
			c.StopService()
			n.StartClone(c)
			checkKeptEvidence(t, c, d.ID, b, seq.Svc.PublicKey())
			if err := c.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rand.New(rand.NewPCG(1, 1)))); !errors.Is(err, docsync.ErrHalted) {
				t.Fatalf("edit on a document with evidence after restart: %v", err)
			}
		}
		if b == sequencer.Equivocate {
			// The proof is on disk: a restarted clone is still stopped.
			c := clones[0]
			c.StopService()
			n.StartClone(c)
			in, err := c.Svc.Info(d.ID)
			if err != nil || in.Halted == nil {
				t.Fatalf("restarted clone: halted %v, %v", in.Halted, err)
			}
			if err := c.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rand.New(rand.NewPCG(1, 1)))); !errors.Is(err, docsync.ErrHalted) {
				t.Fatalf("edit on a halted document after restart: %v", err)
			}
		}
	})
	return delays
}

// stallAfter is the clones' Params.StallAfter in these tests (virtual time).
const stallAfter = 5 * time.Second

// checkKeptEvidence fails unless clone c keeps evidence of behaviour b that
// verifies, through its encoding, against the sequencer's key.
func checkKeptEvidence(t *testing.T, c *Clone, doc docsync.DocID, b sequencer.Behaviour, seqPub ed25519.PublicKey) {
	t.Helper()
	want := map[sequencer.Behaviour]docsync.EvidenceKind{sequencer.Tamper: docsync.EvidenceTamper,
		sequencer.ForgeSeq: docsync.EvidenceForgedSeq}[b]
	evs, err := c.Svc.Evidence(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Kind != want {
			continue
		}
		raw, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := docsync.DecodeEvidence(raw)
		if err == nil {
			err = back.VerifyFor(seqPub)
		}
		if err != nil {
			t.Fatalf("%v evidence does not verify: %v", b, err)
		}
		return
	}
	t.Fatalf("no %v evidence kept (have %d)", want, len(evs))
}

// Each Byzantine behaviour, run by the sequencer service over the real
// stack (gossipsub, streams), is detected by every honest clone. Detection
// delays are in virtual time (20 ms one-way links).
func TestByzantineSequencerDetected(t *testing.T) {
	behaviours := sequencer.Behaviours
	if testing.Short() {
		behaviours = []sequencer.Behaviour{sequencer.Equivocate, sequencer.Tamper, sequencer.Drop}
	}
	for _, b := range behaviours {
		t.Run(b.String(), func(t *testing.T) {
			ds := runByzantine(t, b)
			slices.Sort(ds)
			t.Logf("%-10s detected by %d/6 clones; delay after misbehaviour: min %v, median %v, max %v (virtual)",
				b, len(ds), ds[0], ds[len(ds)/2], ds[len(ds)-1])
		})
	}
}
