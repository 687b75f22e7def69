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
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// A member that is away while the others detect a fork learns of it from
// their repeated proof once it is back, within a few HeadRepeat. The
// repeats are numbered (Head.MarshalRepeat): sent as the same bytes,
// gossipsub dropped them as duplicates for two to three minutes (its seen
// cache), and c2c bench paper's restarted device detected the fork only
// ~178 s later.
func TestForkProofReachesMemberBackAfterDetection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		victims := map[docsync.MemberID]bool{}
		var vmu sync.Mutex
		seq := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
			sb := sequencer.NewByzantine(doc, key, sequencer.Equivocate, 8)
			sb.Victims = func(m docsync.MemberID) bool { vmu.Lock(); defer vmu.Unlock(); return victims[m] }
			return seqtest.Observe(sb)
		}))
		var clones []*Clone
		for i := range 4 {
			c := n.AddClone()
			clones = append(clones, c)
			if i%2 == 1 {
				vmu.Lock()
				victims[c.Svc.ID()] = true
				vmu.Unlock()
			}
		}
		d := n.NewDoc(seq, clones...)
		halted := func(c *Clone) bool { in, err := c.Svc.Info(d.ID); return err == nil && in.Halted != nil }

		// The last member (not a victim) goes away; the others edit until
		// each of them has detected the fork.
		away := clones[2]
		_ = away.H.Close()
		away.StopService()
		present := []*Clone{clones[0], clones[1], clones[3]}
		rng := rand.New(rand.NewPCG(1, 2))
		for !halted(present[0]) || !halted(present[1]) || !halted(present[2]) {
			for _, c := range present {
				_ = c.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)) // fails once c halts
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Long past gossipsub's message cache (its IHAVE window), well
		// within its seen cache.
		time.Sleep(20 * time.Second)
		back := &Clone{Peer: n.StartPeer(away.Key, away.DS, away.IP), User: away.User, Device: away.Device, HPKEPriv: away.HPKEPriv}
		n.StartClone(back)
		returned := time.Now()
		repeat := cloneservice.DefaultParams().HeadRepeat
		WaitUntil(t, 5*repeat, "the member back detects the fork", func() bool { return halted(back) })
		t.Logf("detected %v after it came back (virtual time)", time.Since(returned))
	})
}
