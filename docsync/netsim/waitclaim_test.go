package netsim

import (
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/libp2p/go-libp2p/core/network"
)

// freezable is the honest orderer that, while frozen, accepts envelopes
// and orders none of them: its head stops while members still submit, the
// third kind of withholding, and nothing tells an idle member of a later
// seq. Thawed, it orders the resent envelopes as usual.
type freezable struct {
	sequencer.Honest
	frozen *atomic.Bool
}

func (f freezable) Order(env *docsync.Envelope) (sequencer.Ordered, error) {
	if f.frozen.Load() {
		return sequencer.Ordered{}, nil
	}
	return f.Honest.Order(env)
}

// stallEvents records each clone's first EventStalled and every stalled
// or resumed event kind, in order.
type stallEvents struct {
	mu      sync.Mutex
	first   []time.Time
	reasons []cloneservice.StallReason
	kinds   [][]cloneservice.EventKind
	wg      sync.WaitGroup
	cancels []func()
}

func watchStalls(t *testing.T, doc docsync.DocID, clones []*Clone) *stallEvents {
	se := &stallEvents{first: make([]time.Time, len(clones)), reasons: make([]cloneservice.StallReason, len(clones)),
		kinds: make([][]cloneservice.EventKind, len(clones))}
	for i, c := range clones {
		ch, cancel, err := c.Svc.Subscribe(doc)
		if err != nil {
			t.Fatal(err)
		}
		se.cancels = append(se.cancels, cancel)
		se.wg.Add(1)
		go func() {
			defer se.wg.Done()
			for ev := range ch {
				if ev.Kind != cloneservice.EventStalled && ev.Kind != cloneservice.EventResumed {
					continue
				}
				se.mu.Lock()
				se.kinds[i] = append(se.kinds[i], ev.Kind)
				if ev.Kind == cloneservice.EventStalled && se.first[i].IsZero() {
					se.first[i], se.reasons[i] = ev.Time, ev.Stall.Reason
				}
				se.mu.Unlock()
			}
		}()
	}
	return se
}

func (se *stallEvents) stop() {
	for _, c := range se.cancels {
		c()
	}
	se.wg.Wait()
}

// A sequencer whose head stops while one member submits: the submitter
// raises StallSubmit, and the members that do not submit, told only by the
// submitter's signed wait claims, raise StallWaiting StallAfter after they
// first heard a claim. Every alarm clears once the sequencer orders again.
func TestIdleMembersSeeFrozenHead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		var frozen atomic.Bool
		seq := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
			return freezable{sequencer.NewHonest(doc, key), &frozen}
		}))
		params := cloneservice.DefaultParams()
		params.StallAfter = stallAfter
		var clones []*Clone
		for range 4 {
			clones = append(clones, n.AddClone(cloneservice.WithParams(params)))
		}
		d := n.NewDoc(seq, clones...)
		rng := rand.New(rand.NewPCG(3, 4))
		if err := clones[0].Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		// Claims travel member to member (a withholding sequencer need not
		// forward them): wait for the members' own connections.
		WaitUntil(t, time.Minute, "the members connected to each other", func() bool {
			for _, a := range clones {
				for _, b := range clones {
					if a != b && a.H.Network().Connectedness(b.H.ID()) != network.Connected {
						return false
					}
				}
			}
			return true
		})
		se := watchStalls(t, d.ID, clones)

		frozen.Store(true)
		start := time.Now()
		if err := clones[0].Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)); err != nil {
			t.Fatal(err)
		}
		WaitUntil(t, 6*stallAfter, "the stalled alarm on every clone", func() bool {
			for _, c := range clones {
				if in, _ := c.Svc.Info(d.ID); in.Stalled == nil {
					return false
				}
			}
			return true
		})
		se.mu.Lock()
		var idle []time.Duration
		for i := range clones {
			want := cloneservice.StallWaiting
			if i == 0 {
				want = cloneservice.StallSubmit
			}
			if se.reasons[i] != want {
				t.Errorf("clone %d: stall reason %v, want %v", i, se.reasons[i], want)
			}
			delay := se.first[i].Sub(start)
			if i == 0 {
				t.Logf("submitter: alarm %v after its edit (virtual)", delay)
			} else {
				idle = append(idle, delay)
			}
		}
		se.mu.Unlock()
		slices.Sort(idle)
		t.Logf("idle members (3): alarm after the submitter's edit min %v, max %v (virtual; StallAfter %v, ResubmitAfter %v)",
			idle[0], idle[len(idle)-1], stallAfter, params.ResubmitAfter)
		for i, c := range clones[1:] {
			in, _ := c.Svc.Info(d.ID)
			if in.Stalled.Reason != cloneservice.StallWaiting || in.Pending {
				t.Fatalf("idle clone %d: %+v", i+1, in.Stalled)
			}
			if st := c.Svc.Stats(); st.Stalls != 1 || st.Stalled != 1 {
				t.Fatalf("idle clone %d: stall metrics %d alarms, %d stalled now", i+1, st.Stalls, st.Stalled)
			}
		}

		frozen.Store(false) // the resent envelope is ordered: the head moves
		WaitUntil(t, 6*stallAfter, "every alarm cleared", func() bool {
			for _, c := range clones {
				if in, _ := c.Svc.Info(d.ID); in.Stalled != nil || in.Pending {
					return false
				}
			}
			return true
		})
		d.WaitConverged(time.Minute)
		// Quiet again: no claim is repeated, so no alarm comes back.
		time.Sleep(3 * stallAfter)
		se.stop()
		for i, c := range clones {
			if in, _ := c.Svc.Info(d.ID); in.Stalled != nil {
				t.Errorf("clone %d: alarm raised again on a quiet document", i)
			}
			if k := se.kinds[i]; len(k) != 2 || k[0] != cloneservice.EventStalled || k[1] != cloneservice.EventResumed {
				t.Errorf("clone %d: events %v, want stalled then resumed", i, k)
			}
		}
	})
}
