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
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// The stalled alarm: a sequencer that stops answering while a member
// submits raises it after StallAfter on that member (event, Info,
// metrics), and it clears once the sequencer is back and commits.
func TestStallAlarmRaisedAndCleared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		params := cloneservice.DefaultParams()
		params.StallAfter = stallAfter
		a, b := n.AddClone(cloneservice.WithParams(params)), n.AddClone(cloneservice.WithParams(params))
		d := n.NewDoc(seq, a, b)
		ch, cancel, err := a.Svc.Subscribe(d.ID)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var kinds []cloneservice.EventKind
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ev := range ch {
				if ev.Kind == cloneservice.EventStalled || ev.Kind == cloneservice.EventResumed {
					mu.Lock()
					kinds = append(kinds, ev.Kind)
					mu.Unlock()
				}
			}
		}()

		seq.StopService() // the sequencer withholds: nothing is ordered
		rng := rand.New(rand.NewPCG(1, 2))
		if err := a.Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)); err != nil {
			t.Fatal(err)
		}
		WaitUntil(t, 3*stallAfter, "the stalled alarm on the submitting clone", func() bool {
			in, _ := a.Svc.Info(d.ID)
			return in.Stalled != nil
		})
		in, _ := a.Svc.Info(d.ID)
		if in.Stalled.Reason != cloneservice.StallSubmit {
			t.Fatalf("stall reason %v", in.Stalled.Reason)
		}
		if st := a.Svc.Stats(); st.Stalls != 1 || st.Stalled != 1 {
			t.Fatalf("stall metrics: %d alarms, %d stalled now", st.Stalls, st.Stalled)
		}

		d.Seq = n.StartSequencer(seq.Peer) // back, from its datastore
		WaitUntil(t, 3*stallAfter, "the alarm cleared and the edit committed", func() bool {
			in, _ := a.Svc.Info(d.ID)
			return in.Stalled == nil && !in.Pending
		})
		d.WaitConverged(time.Minute)
		if st := a.Svc.Stats(); st.Stalls != 1 || st.Stalled != 0 {
			t.Fatalf("stall metrics after resuming: %d alarms, %d stalled now", st.Stalls, st.Stalled)
		}
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if len(kinds) != 2 || kinds[0] != cloneservice.EventStalled || kinds[1] != cloneservice.EventResumed {
			t.Fatalf("events %v, want stalled then resumed", kinds)
		}
	})
}

// Evidence gossiped by a peer that is no member reaches every member
// through the heads topic; each verifies it before it keeps or forwards
// it: a tampered copy is rejected and kept by none, the genuine one kept
// (and alarmed) by all, also by the member the sender is not connected to.
func TestEvidenceGossipVerifiedBeforeKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		a, b := n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, a, b)

		seqKey, err := netproto.SigningKey(seq.Key)
		if err != nil {
			t.Fatal(err)
		}
		ev := forgedTamper(t, d.ID, seqKey)
		good, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), good...)
		bad[len(bad)-1] ^= 1 // the envelope's signature: B no longer chains over it

		x := n.AddPeer(nil, nil)
		Connect(t, x, a.Peer) // not to b: b hears of it only through a
		topic, err := x.PS.Join(netproto.HeadsTopic(d.ID), netproto.HeadsTopicOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		WaitUntil(t, time.Minute, "x meshed with a on the heads topic", func() bool {
			return len(topic.ListPeers()) > 0
		})
		invalid := a.Svc.Stats().InvalidTopic
		if err := topic.Publish(context.Background(), bad); err != nil {
			t.Fatal(err)
		}
		WaitUntil(t, time.Minute, "the tampered copy rejected", func() bool {
			return a.Svc.Stats().InvalidTopic > invalid
		})
		for _, c := range []*Clone{a, b} {
			if evs, _ := c.Svc.Evidence(d.ID); len(evs) != 0 {
				t.Fatalf("a tampered copy was kept: %d", len(evs))
			}
		}
		if err := topic.Publish(context.Background(), good); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*Clone{a, b} {
			WaitUntil(t, time.Minute, "the evidence kept by every member", func() bool {
				in, _ := c.Svc.Info(d.ID)
				return len(in.Misbehaved) == 1 && in.Misbehaved[0] == docsync.EvidenceTamper
			})
			checkKeptEvidence(t, c, d.ID, sequencer.Tamper, seqKey.Public().(ed25519.PublicKey))
			if st := c.Svc.Stats(); st.Evidence != 1 {
				t.Fatalf("misbehaviour alarms: %d", st.Evidence)
			}
		}
	})
}

// forgedTamper is tamper evidence signed with the sequencer's key: an
// envelope with a bad author signature chained after the genesis.
func forgedTamper(t *testing.T, doc docsync.DocID, seqKey ed25519.PrivateKey) *docsync.Evidence {
	_, authorKey, _ := ed25519.GenerateKey(nil)
	author, _ := docsync.MemberIDOf(authorKey.Public().(ed25519.PublicKey))
	env := &docsync.Envelope{Doc: doc, Author: author, Counter: 1, Epoch: 1, Kind: docsync.KindEdit,
		Nonce: make([]byte, docsync.NonceSize), Body: []byte("sealed")}
	env.Sign(authorKey)
	env.Body = []byte("sealeD") // the sequencer changed it after the author signed
	a := docsync.Head{Doc: doc, ChainHash: docsync.GenesisHash(doc)}
	h := docsync.Head{Doc: doc, Seq: 1, ChainHash: docsync.ChainHash(a.ChainHash, env.Digest())}
	h.Sign(seqKey)
	ev := &docsync.Evidence{Kind: docsync.EvidenceTamper, Sequencer: seqKey.Public().(ed25519.PublicKey), A: a, B: h, Envelope: env}
	if err := ev.Verify(); err != nil {
		t.Fatal(err)
	}
	return ev
}

// A member that does not submit sees a withholding sequencer as entries
// it is told of (a later entry) but cannot get: the stalled alarm with
// the history reason.
func TestStallAlarmOnWithheldHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
			return seqtest.Observe(sequencer.NewByzantine(doc, key, sequencer.Drop, 4))
		}))
		params := cloneservice.DefaultParams()
		params.StallAfter = stallAfter
		a, b := n.AddClone(cloneservice.WithParams(params)), n.AddClone(cloneservice.WithParams(params))
		d := n.NewDoc(seq, a, b)
		rng := rand.New(rand.NewPCG(3, 4))
		// a's first edit is dropped at seq 4; its next waits behind it, so
		// another member's edit is what shows b the gap.
		c := n.AddClone(cloneservice.WithParams(params))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := a.Svc.Invite(ctx, d.ID, c.User, c.Device, docsync.RoleWriter); err != nil {
			t.Fatal(err)
		}
		WaitUntil(t, time.Minute, "c holds the key", func() bool {
			in, err := c.Svc.Info(d.ID)
			return err == nil && in.Role == docsync.RoleWriter && in.Applied == in.Seq
		})
		if err := a.Svc.EditFunc(ctx, d.ID, RandomEdit(rng)); err != nil {
			t.Fatal(err)
		}
		if err := c.Svc.EditFunc(ctx, d.ID, RandomEdit(rng)); err != nil {
			t.Fatal(err)
		}
		WaitUntil(t, 4*stallAfter, "the stalled alarm on the member that did not submit", func() bool {
			in, _ := b.Svc.Info(d.ID)
			return in.Stalled != nil
		})
		in, _ := b.Svc.Info(d.ID)
		if in.Stalled.Reason != cloneservice.StallHistory || in.Pending {
			t.Fatalf("stall %+v pending %v", in.Stalled, in.Pending)
		}
	})
}
