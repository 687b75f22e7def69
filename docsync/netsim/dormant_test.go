package netsim

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestIdleDocumentGoesDormantAndWakes: members of a document nobody edits
// leave its topics' meshes after DormantAfter, keeping only their feeds;
// an edit at one of them reaches every member, which all subscribe again;
// an attached observer wakes a member that slept again, and keeps it
// awake unless it is idle.
func TestIdleDocumentGoesDormantAndWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		p := cloneservice.DefaultParams()
		p.DormantAfter = 30 * time.Second
		clones := n.AddClones(4, cloneservice.WithParams(p))
		d := n.NewDoc(seq, clones...)
		waitFeeds(t, d)
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(5, 6))
		for i := range 12 {
			if err := clones[i%len(clones)].Svc.EditFunc(ctx, d.ID, RandomEdit(rng)); err != nil {
				t.Fatal(err)
			}
		}
		d.WaitConverged(time.Minute)

		start := time.Now()
		waitDormant(t, clones, d, true)
		if slept := time.Since(start); slept < p.DormantAfter {
			t.Fatalf("dormant %v after the last edit, before DormantAfter (%v)", slept, p.DormantAfter)
		}
		topics := []string{netproto.EntriesTopic(d.ID), netproto.HeadsTopic(d.ID), netproto.PresenceTopic(d.ID)}
		for _, topic := range topics {
			WaitUntil(t, 10*time.Second, "the sequencer sees no dormant member on "+topic, func() bool {
				return len(onTopic(seq.PS.ListPeers(topic), clones)) == 0
			})
			for i, c := range clones {
				if slices.Contains(c.PS.GetTopics(), topic) {
					t.Fatalf("dormant clone %d still subscribes to %s", i, topic)
				}
			}
		}
		// A dormant member publishes nothing on the heads topic: a spy on
		// it, connected to every member, hears none of them.
		spy := n.AddPeer(nil, nil)
		ht, err := spy.PS.Join(netproto.HeadsTopic(d.ID))
		if err != nil {
			t.Fatal(err)
		}
		sub, err := ht.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range clones {
			if err := spy.H.Connect(ctx, c.Info()); err != nil {
				t.Fatal(err)
			}
		}
		heard := make(chan peer.ID, 64)
		sctx, stop := context.WithCancel(ctx)
		go func() {
			for {
				m, err := sub.Next(sctx)
				if err != nil {
					return
				}
				heard <- m.ReceivedFrom
			}
		}()
		time.Sleep(10 * p.HeadRepeat)
		synctest.Wait()
		stop()
		for len(heard) > 0 {
			if from := <-heard; len(onTopic([]peer.ID{from}, clones)) > 0 {
				t.Fatalf("a dormant member (%s) sent a message on the heads topic", from)
			}
		}
		sub.Cancel()
		_ = ht.Close()

		// An edit at a dormant member reaches every member and wakes them.
		if err := clones[2].Svc.EditFunc(ctx, d.ID, RandomEdit(rng)); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		waitDormant(t, clones, d, false)
		WaitUntil(t, time.Minute, "every member back on the entries topic", func() bool {
			return len(onTopic(seq.PS.ListPeers(netproto.EntriesTopic(d.ID)), clones)) == len(clones)
		})

		// Asleep again, an attached observer wakes its clone, and it stays
		// awake while attached.
		waitDormant(t, clones, d, true)
		a, _, err := clones[1].Svc.Attach(ctx, d.ID, func(cloneservice.Change) {})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * p.DormantAfter)
		synctest.Wait()
		if in, _ := clones[1].Svc.Info(d.ID); in.Dormant {
			t.Fatal("a clone with an attached observer went dormant")
		}
		if in, _ := clones[0].Svc.Info(d.ID); !in.Dormant {
			t.Fatal("a clone without an observer woke up")
		}
		// An idle observer (a device link with no session open) lets it
		// sleep; one that is looked through again wakes it.
		a.SetIdle(true)
		waitDormant(t, clones[1:2], d, true)
		a.SetIdle(false)
		waitDormant(t, clones[1:2], d, false)
		a.Detach()
		waitDormant(t, clones[1:2], d, true)
	})
}

// waitDormant waits until every clone's document is dormant (or awake).
func waitDormant(t *testing.T, clones []*Clone, d *Doc, dormant bool) {
	t.Helper()
	WaitUntil(t, 5*time.Minute, "members dormant or awake", func() bool {
		for _, c := range clones {
			in, err := c.Svc.Info(d.ID)
			if err != nil || in.Dormant != dormant || c.Svc.Stats().Dormant != map[bool]int64{true: 1}[dormant] {
				return false
			}
		}
		return true
	})
}

// onTopic returns the clones among peers.
func onTopic(peers []peer.ID, clones []*Clone) []peer.ID {
	var on []peer.ID
	for _, p := range peers {
		for _, c := range clones {
			if c.H.ID() == p {
				on = append(on, p)
			}
		}
	}
	return on
}
