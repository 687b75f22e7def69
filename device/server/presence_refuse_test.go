package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/server"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/presence"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
)

// signer returns a clone's member ID and signing key.
func signer(t *testing.T, c *netsim.Clone) (docsync.MemberID, ed25519.PrivateKey) {
	id, err := cloneservice.IdentityFromKeys(c.Key, c.HPKEPriv)
	if err != nil {
		t.Fatal(err)
	}
	return id.ID(), id.Sign
}

// strangerOn starts a peer outside the document, connected to c, that
// joins the document's presence topic to publish on it.
func (w *world) strangerOn(c *netsim.Clone, doc docsync.DocID) *pubsub.Topic {
	w.t.Helper()
	p := w.n.AddPeer(nil, nil)
	w.t.Cleanup(p.Close)
	netsim.Connect(w.t, p, c.Peer)
	top, err := p.PS.Join(netproto.PresenceTopic(doc))
	if err != nil {
		w.t.Fatal(err)
	}
	// Joined, not subscribed: like a publisher that only sends.
	netsim.WaitUntil(w.t, time.Minute, "the stranger meets the clone on the topic", func() bool {
		return slices.Contains(top.ListPeers(), c.H.ID())
	})
	return top
}

// publish seals a caret as member (signed by priv) under key and publishes it.
func publish(t *testing.T, top *pubsub.Topic, doc docsync.DocID, member docsync.MemberID, priv ed25519.PrivateKey,
	epoch uint64, key docsync.EpochKey, anchor int) {
	t.Helper()
	b, err := presence.Seal(&presence.Update{Doc: doc, Member: member, Epoch: epoch, Stamp: uint64(time.Now().UnixMilli()) + uint64(anchor),
		Device: "forged", Seq: 1, Anchor: anchor, Head: anchor}, key, priv, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := top.Publish(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// A removed member's caret goes at once from the others' devices, and
// its clone's later carets are refused; so are a stranger's, and one
// forged in a member's name.
func TestPresenceRemovedAndStrangers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, cl, doc, ctx := presenceWorld(t, 7, nil, nil, nil)
		a, b, c := cl[0], cl[1], cl[2]
		db := w.openDevice(ctx, w.enroll(b, "bob"), doc)
		dc := w.openDevice(ctx, w.enroll(c, "carol"), doc)
		if err := dc.EditFunc(insertAt(0, "shared text")); err != nil {
			t.Fatal(err)
		}
		if err := db.WaitText(ctx, func(s string) bool { return s == "shared text" }); err != nil {
			t.Fatal(err)
		}
		if err := dc.SetSelection(client.Selection{Anchor: 3, Head: 3}); err != nil {
			t.Fatal(err)
		}
		netsim.WaitUntil(t, time.Minute, "bob sees carol's caret", func() bool { return peerOf(db, c.Svc.ID()) != nil })

		removed := time.Now()
		if err := a.Svc.Remove(ctx, doc, c.Svc.ID()); err != nil {
			t.Fatal(err)
		}
		netsim.WaitUntil(t, time.Minute, "carol's caret gone on bob's device", func() bool { return peerOf(db, c.Svc.ID()) == nil })
		if took := time.Since(removed); took >= presence.DefaultParams().TTL {
			t.Fatalf("the caret went only by expiry (%v)", took)
		}
		// Carol's device moves its caret: her clone, no longer a member,
		// sends nothing, and a caret signed by her key is refused.
		sent := c.Svc.Stats().PresenceSent
		if err := dc.SetSelection(client.Selection{Anchor: 5, Head: 5}); err != nil {
			t.Fatal(err)
		}
		top := w.strangerOn(b, doc)
		cm, cpriv := signer(t, c)
		refused := b.Svc.Stats().PresenceRefused
		publish(t, top, doc, cm, cpriv, 2, docsync.EpochKey{}, 1)
		netsim.WaitUntil(t, time.Minute, "the removed member's caret refused", func() bool {
			return b.Svc.Stats().PresenceRefused > refused
		})
		if got := c.Svc.Stats().PresenceSent; got != sent {
			t.Fatalf("the removed member's clone sent %d carets", got-sent)
		}

		// A stranger, signing as itself, and a stranger forging Bob's
		// member ID (without his key) are refused alike.
		spub, spriv, _ := ed25519.GenerateKey(rand.Reader)
		var sm docsync.MemberID
		copy(sm[:], spub)
		am, _ := signer(t, a)
		refused = b.Svc.Stats().PresenceRefused
		publish(t, top, doc, sm, spriv, 2, docsync.EpochKey{}, 2)
		publish(t, top, doc, am, spriv, 2, docsync.EpochKey{}, 3)
		netsim.WaitUntil(t, time.Minute, "the stranger's carets refused", func() bool {
			return b.Svc.Stats().PresenceRefused >= refused+2
		})
		for _, p := range db.Presence() {
			t.Fatalf("bob's device shows a caret of %v (%s)", p.Member, p.Device)
		}
		if b.Svc.Stats().PresenceTaken == 0 {
			t.Fatal("bob's clone took no caret at all")
		}
	})
}

// A member's clone that publishes faster than the members' rate gets no
// more than the rate's burst plus its refill through: the validator drops
// the rest before gossipsub forwards them.
func TestPresenceRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pa, pb := cloneservice.DefaultParams(), cloneservice.DefaultParams()
		pa.Presence.Interval = 0 // a clone that does not coalesce
		pb.Presence.Rate.PerSecond, pb.Presence.Rate.Burst = 2, 5
		w, cl, doc, ctx := presenceWorld(t, 8, &pa, &pb)
		a, b := cl[0], cl[1]
		cp := client.DefaultParams()
		cp.SelectionInterval = 0 // a device that does not coalesce either
		da := w.openDevice(ctx, w.enroll(a, "phone"), doc, client.WithParams(cp))
		db := w.openDevice(ctx, w.enroll(b, "tablet"), doc)
		if err := da.EditFunc(insertAt(0, "0123456789")); err != nil {
			t.Fatal(err)
		}
		if err := da.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		const n = 40
		start := time.Now()
		for i := range n {
			if err := da.SetSelection(client.Selection{Anchor: i % 10, Head: i % 10}); err != nil {
				t.Fatal(err)
			}
		}
		netsim.WaitUntil(t, time.Minute, "a's clone published every caret", func() bool { return a.Svc.Stats().PresenceSent >= n })
		netsim.WaitUntil(t, time.Minute, "b's clone saw every caret", func() bool {
			st := b.Svc.Stats()
			return st.PresenceTaken+st.PresenceRefused >= n
		})
		elapsed := time.Since(start)
		st := b.Svc.Stats()
		bound := uint64(pb.Presence.Rate.Burst) + uint64(elapsed.Seconds()*pb.Presence.Rate.PerSecond) + 1
		if st.PresenceTaken > bound || b.Svc.Refusals()["presence_rate"] == 0 {
			t.Fatalf("b took %d of %d carets in %v (bound %d), %d refused for the rate", st.PresenceTaken, n, elapsed, bound,
				b.Svc.Refusals()["presence_rate"])
		}
		// b's device gets the sets coalesced too: one per PresenceInterval.
		netsim.WaitUntil(t, time.Minute, "the caret on b's device", func() bool { return peerOf(db, a.Svc.ID()) != nil })
		sets := db.Stats().Presence
		if most := 2 + uint64(time.Since(start)/server.DefaultParams().PresenceInterval); sets > most {
			t.Fatalf("b's device got %d caret sets in %v, want at most %d", sets, time.Since(start), most)
		}
		t.Logf("b took %d of %d carets published in %v; %d refused for the rate; its device got %d sets",
			st.PresenceTaken, n, elapsed, b.Svc.Refusals()["presence_rate"], sets)
	})
}
