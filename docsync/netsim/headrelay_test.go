package netsim

import (
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// A member does not relay a head that agrees with its log
// (cloneservice's agreedHeads), and a fork still reaches a clone that is
// cut from the victim and reaches it only through another member: clone 0
// is the victim of an equivocating sequencer, clone 2 is cut from it, and
// clone 1 is connected to both. (The sequencer relays no heads: it does
// not subscribe to the topic.) What carries the fork across clone 1 is
// what clone 1 publishes once it detects it (its proof and evidence),
// and the heads of clone 0 that disagree with clone 1's log.
func TestForkCrossesARelayingMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		var victim docsync.MemberID
		var vmu sync.Mutex
		seq := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
			sb := sequencer.NewByzantine(doc, key, sequencer.Equivocate, 8)
			sb.Victims = func(m docsync.MemberID) bool { vmu.Lock(); defer vmu.Unlock(); return m == victim }
			return seqtest.Observe(sb)
		}))
		clones := []*Clone{n.AddClone(), n.AddClone(), n.AddClone()}
		vmu.Lock()
		victim = clones[0].Svc.ID()
		vmu.Unlock()
		d := n.NewDoc(seq, clones...)
		Connect(t, clones[0].Peer, clones[1].Peer)
		Connect(t, clones[1].Peer, clones[2].Peer)
		n.Partition([]*Peer{clones[0].Peer}, []*Peer{clones[2].Peer})
		time.Sleep(5 * time.Second) // gossipsub's heartbeats graft clone 1 into both meshes

		halted := func(c *Clone) bool {
			in, err := c.Svc.Info(d.ID)
			return err == nil && in.Halted != nil
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for i, c := range clones {
			rng := rand.New(rand.NewPCG(7, uint64(i)))
			wg.Go(func() {
				for !halted(c) {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(50+rng.IntN(150)) * time.Millisecond):
					}
					_ = c.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)) // fails once halted
				}
			})
		}
		deadline := time.Now().Add(30 * time.Second)
		for i, c := range clones {
			for !halted(c) {
				if time.Now().After(deadline) {
					close(stop)
					wg.Wait()
					t.Fatalf("clone %d found no fork in 30 s (virtual); stats %+v", i, c.Svc.Stats())
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		close(stop)
		wg.Wait()
		for i, c := range clones {
			in, err := c.Svc.Info(d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := in.Halted.Verify(seq.Svc.PublicKey()); err != nil {
				t.Errorf("clone %d: fork proof does not verify: %v", i, err)
			}
		}
		if got := clones[1].Svc.Stats().HeadsAgreed; got == 0 {
			t.Errorf("clone 1 took no head as agreeing with its log: every head was relayed")
		}
	})
}
