package netsim

import (
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
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

// waitAllStalled waits until every clone's stalled alarm is raised.
func waitAllStalled(t *testing.T, doc docsync.DocID, clones []*Clone) {
	WaitUntil(t, 6*stallAfter, "the stalled alarm on every clone", func() bool {
		for _, c := range clones {
			if in, _ := c.Svc.Info(doc); in.Stalled == nil {
				return false
			}
		}
		return true
	})
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
		waitAllStalled(t, d.ID, clones)
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

// Wait claims from strangers, forged for a member, or for a counter that
// is committed raise nothing. A lying member raises StallWaiting on a
// quiet document no sooner than StallAfter, named in the alarm; the head
// moving clears it, and so does the liar falling silent.
func TestWaitClaimsOfStrangersAndLiars(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		params := cloneservice.DefaultParams()
		params.StallAfter = stallAfter
		a, b, c := n.AddClone(cloneservice.WithParams(params)), n.AddClone(cloneservice.WithParams(params)), n.AddClone(cloneservice.WithParams(params))
		d := n.NewDoc(seq, a, b, c)
		rng := rand.New(rand.NewPCG(5, 6))
		if err := b.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute) // b's counter 1 is committed
		se := watchStalls(t, d.ID, []*Clone{a})

		// claimer publishes claims on the heads topic from a peer of its own,
		// connected to a only, every HeadRepeat until stopped.
		claimer := func(claims ...func(at uint64) []byte) (stop func()) {
			x := n.AddPeer(nil, nil)
			Connect(t, x, a.Peer)
			topic, err := x.PS.Join(netproto.HeadsTopic(d.ID), netproto.HeadsTopicOpts()...)
			if err != nil {
				t.Fatal(err)
			}
			WaitUntil(t, time.Minute, "the claimer meshed with a", func() bool { return len(topic.ListPeers()) > 0 })
			done := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					for _, claim := range claims {
						_ = topic.Publish(context.Background(), claim(uint64(time.Now().UnixMilli())))
					}
					select {
					case <-done:
						return
					case <-time.After(params.HeadRepeat):
					}
				}
			}()
			return func() { close(done); wg.Wait() }
		}
		claim := func(key ed25519.PrivateKey, member *docsync.MemberID, counter uint64) func(uint64) []byte {
			return func(at uint64) []byte {
				w := &docsync.WaitClaim{Doc: d.ID, Counter: counter, Seq: 1, At: at}
				w.Sign(key)
				if member != nil {
					w.Member = *member // someone else's name on our signature
				}
				raw, err := w.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				return raw
			}
		}
		_, strangerKey, _ := ed25519.GenerateKey(nil)
		bKey, err := netproto.SigningKey(b.Key)
		if err != nil {
			t.Fatal(err)
		}
		bID := b.Svc.ID()
		invalid := a.Svc.Stats().InvalidTopic
		stop := claimer(claim(strangerKey, nil, 1), claim(strangerKey, &bID, 2), claim(bKey, nil, 1))
		time.Sleep(3 * stallAfter) // virtual: long past StallAfter
		stop()
		if in, _ := a.Svc.Info(d.ID); in.Stalled != nil {
			t.Fatalf("alarm from a stranger's, a forged or a stale claim: %+v", in.Stalled)
		}
		if got := a.Svc.Stats().InvalidTopic - invalid; got < 2 {
			t.Fatalf("stranger's and forged claims: %d rejected", got)
		}

		// b lies: it claims a counter it never submitted.
		start := time.Now()
		stop = claimer(claim(bKey, nil, 2))
		WaitUntil(t, 3*stallAfter, "a's alarm from b's claim", func() bool {
			in, _ := a.Svc.Info(d.ID)
			return in.Stalled != nil
		})
		in, _ := a.Svc.Info(d.ID)
		if in.Stalled.Reason != cloneservice.StallWaiting || !strings.Contains(in.Stalled.Detail, bID.String()) {
			t.Fatalf("alarm %+v does not name the claimant %v", in.Stalled, bID)
		}
		if waited := in.Stalled.Since.Sub(start); waited < stallAfter {
			t.Fatalf("alarm after %v of claims, before StallAfter %v", waited, stallAfter)
		}
		// The head moves: the alarm clears at once (the liar must wait again).
		if err := a.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)); err != nil {
			t.Fatal(err)
		}
		WaitUntil(t, stallAfter, "a's alarm cleared by the head moving", func() bool {
			in, _ := a.Svc.Info(d.ID)
			return in.Stalled == nil && !in.Pending
		})
		stop()
		time.Sleep(3 * stallAfter) // virtual: the liar is silent
		se.stop()
		if in, _ := a.Svc.Info(d.ID); in.Stalled != nil {
			t.Fatalf("alarm raised after the liar fell silent: %+v", in.Stalled)
		}
		if k := se.kinds[0]; len(k) != 2 || k[0] != cloneservice.EventStalled || k[1] != cloneservice.EventResumed {
			t.Fatalf("events %v, want stalled then resumed", k)
		}
	})
}

// The drop mode with one writer and three idle members: the sequencer
// withholds the writer's entry at seq 8. Every clone raises the stalled
// alarm; the delays after the withheld envelope was first submitted are
// logged (virtual time), with each clone's reason.
func TestDropModeAlarmsIdleMembers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		var byz *seqtest.Observed
		seq := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
			byz = seqtest.Observe(sequencer.NewByzantine(doc, key, sequencer.Drop, 8))
			return byz
		}))
		params := cloneservice.DefaultParams()
		params.StallAfter = stallAfter
		var clones []*Clone
		for range 4 {
			clones = append(clones, n.AddClone(cloneservice.WithParams(params)))
		}
		d := n.NewDoc(seq, clones...)
		se := watchStalls(t, d.ID, clones)
		rng := rand.New(rand.NewPCG(7, 8))
		writer := clones[0]
		for {
			in, _ := writer.Svc.Info(d.ID)
			if in.Seq >= 7 {
				break
			}
			if err := writer.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)); err != nil {
				t.Fatal(err)
			}
			WaitUntil(t, time.Minute, "the edit committed", func() bool {
				in, _ := writer.Svc.Info(d.ID)
				return !in.Pending
			})
		}
		// Every member at seq 7: the next envelope is the one withheld.
		WaitUntil(t, time.Minute, "every member at seq 7", func() bool {
			for _, c := range clones {
				if in, _ := c.Svc.Info(d.ID); in.Seq < 7 {
					return false
				}
			}
			return true
		})
		start := time.Now()
		if err := writer.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)); err != nil {
			t.Fatal(err)
		}
		waitAllStalled(t, d.ID, clones)
		se.stop()
		if at, _ := byz.MisbehavedAt(); at.IsZero() {
			t.Fatal("the sequencer never dropped")
		}
		for i := range clones {
			role := "idle"
			if i == 0 {
				role = "writer"
			}
			t.Logf("clone %d (%s): %v alarm %v after the withheld envelope was submitted (virtual; StallAfter %v)",
				i, role, se.reasons[i], se.first[i].Sub(start), stallAfter)
		}
	})
}
