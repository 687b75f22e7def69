package server_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/presence"
)

// peerOf returns the caret of member m on d (nil: none).
func peerOf(d *client.Doc, m docsync.MemberID) *client.Peer {
	for _, p := range d.Presence() {
		if p.Member == m {
			return &p
		}
	}
	return nil
}

// before reports whether caret pos on text is just before the code point r
// (and, if after is set, just after the code point after).
func before(text string, pos int, r rune) bool {
	rs := []rune(text)
	return pos >= 0 && pos < len(rs) && rs[pos] == r
}

// openDevice opens doc on e's device.
func (w *world) openDevice(ctx context.Context, e *enrolled, doc docsync.DocID, opts ...client.Option) *client.Doc {
	w.t.Helper()
	_, dc := w.device(e, opts...)
	d, err := dc.Open(ctx, doc)
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// presenceWorld starts a network with a sequencer and clones with params
// ps (nil: the defaults) on one new document, and a context for the test.
func presenceWorld(t *testing.T, seed uint64, ps ...*cloneservice.Params) (*world, []*netsim.Clone, docsync.DocID, context.Context) {
	w := newWorld(t, seed, 10*time.Millisecond, 5*time.Millisecond, 40*time.Millisecond)
	seq := w.sequencer()
	clones := make([]*netsim.Clone, len(ps))
	for i, p := range ps {
		if p == nil {
			clones[i] = w.clone()
			continue
		}
		clones[i] = w.n.AddClone(cloneservice.WithParams(*p))
		t.Cleanup(clones[i].Close)
	}
	doc := w.n.NewDoc(seq, clones...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return w, clones, doc.ID, ctx
}

// Two users' devices, each on its own clone, see each other's carets, with
// the member's name and colour; a caret stays on its character while both
// type concurrently (the other's insert before it, its owner's insert at
// it); and it goes at once when its device leaves.
func TestPresenceTwoUsers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, cl, doc, ctx := presenceWorld(t, 5, nil, nil)
		a, b := cl[0], cl[1]
		da := w.openDevice(ctx, w.enroll(a, "alice-phone"), doc)
		db := w.openDevice(ctx, w.enroll(b, "bob-phone"), doc)
		if err := da.EditFunc(insertAt(0, "hello world")); err != nil {
			t.Fatal(err)
		}
		for _, d := range []*client.Doc{da, db} {
			if err := d.WaitText(ctx, func(s string) bool { return s == "hello world" }); err != nil {
				t.Fatal(err)
			}
		}
		// Alice's caret before "w"; Bob selects "hello".
		if err := da.SetSelection(client.Selection{Anchor: 6, Head: 6}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetSelection(client.Selection{Anchor: 0, Head: 5}); err != nil {
			t.Fatal(err)
		}
		netsim.WaitUntil(t, time.Minute, "bob sees alice's caret", func() bool {
			p := peerOf(db, a.Svc.ID())
			return p != nil && p.Sel == client.Selection{Anchor: 6, Head: 6}
		})
		netsim.WaitUntil(t, time.Minute, "alice sees bob's selection", func() bool {
			p := peerOf(da, b.Svc.ID())
			return p != nil && p.Sel == client.Selection{Anchor: 0, Head: 5}
		})
		p := peerOf(db, a.Svc.ID())
		if p.Name != "alice-phone" || p.Device != "alice-phone" || p.Color != presence.Color(a.Svc.ID()) || p.Updated.IsZero() {
			t.Fatalf("alice as bob sees her: %+v", p)
		}
		if len(db.Presence()) != 1 {
			t.Fatalf("bob sees %d carets, want only alice's", len(db.Presence()))
		}

		// Concurrently: Bob types "oh, " at the start, Alice types "big "
		// at her caret. Neither sets a caret again: the carets move
		// through the ops alone (Alice's past what she typed at it).
		errs := make(chan error, 2)
		go func() { errs <- db.EditFunc(insertAt(0, "oh, ")) }()
		go func() { errs <- da.EditFunc(insertAt(6, "big ")) }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		const want = "oh, hello big world"
		for _, d := range []*client.Doc{da, db} {
			if err := d.WaitText(ctx, func(s string) bool { return s == want }); err != nil {
				t.Fatalf("%v: %q", err, d.Text())
			}
		}
		netsim.WaitUntil(t, time.Minute, "alice's caret still before w on bob's device", func() bool {
			p := peerOf(db, a.Svc.ID())
			return p != nil && p.Sel.Anchor == p.Sel.Head && before(db.Text(), p.Sel.Head, 'w')
		})
		netsim.WaitUntil(t, time.Minute, "bob's selection still on hello on alice's device", func() bool {
			p := peerOf(da, b.Svc.ID())
			return p != nil && p.Sel == client.Selection{Anchor: 4, Head: 9}
		})

		// Alice's device goes: Bob's device drops her caret at once (not
		// after the 30 s expiry).
		gone := time.Now()
		da.Close()
		netsim.WaitUntil(t, time.Minute, "alice's caret gone on bob's device", func() bool { return peerOf(db, a.Svc.ID()) == nil })
		if took := time.Since(gone); took >= presence.DefaultParams().TTL {
			t.Fatalf("the caret went only by expiry (%v)", took)
		}
	})
}

// A caret that is not refreshed expires; the clone of a connected device
// refreshes it, so it comes back.
func TestPresenceExpiresAndRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// a refreshes its device's caret only every 50 s; b expires
		// carets after 5 s.
		pa, pb := cloneservice.DefaultParams(), cloneservice.DefaultParams()
		pa.Presence.Refresh, pa.Presence.TTL = 50*time.Second, time.Minute
		pb.Presence.Refresh, pb.Presence.TTL = time.Second, 5*time.Second
		w, cl, doc, ctx := presenceWorld(t, 6, &pa, &pb)
		a, b := cl[0], cl[1]
		da := w.openDevice(ctx, w.enroll(a, "phone"), doc)
		db := w.openDevice(ctx, w.enroll(b, "tablet"), doc)
		if err := da.EditFunc(insertAt(0, "text")); err != nil {
			t.Fatal(err)
		}
		if err := db.WaitText(ctx, func(s string) bool { return s == "text" }); err != nil {
			t.Fatal(err)
		}
		set := time.Now()
		if err := da.SetSelection(client.Selection{Anchor: 2, Head: 2}); err != nil {
			t.Fatal(err)
		}
		netsim.WaitUntil(t, time.Minute, "the caret arrives", func() bool { return peerOf(db, a.Svc.ID()) != nil })
		netsim.WaitUntil(t, time.Minute, "the caret expires", func() bool { return peerOf(db, a.Svc.ID()) == nil })
		if took := time.Since(set); took < pb.Presence.TTL || took >= pa.Presence.Refresh {
			t.Fatalf("expired after %v, want between b's TTL %v and a's refresh %v", took, pb.Presence.TTL, pa.Presence.Refresh)
		}
		netsim.WaitUntil(t, 2*time.Minute, "the refresh brings it back", func() bool {
			p := peerOf(db, a.Svc.ID())
			return p != nil && p.Sel.Head == 2
		})
		if took := time.Since(set); took < pa.Presence.Refresh {
			t.Fatalf("back after %v, before a's refresh %v", took, pa.Presence.Refresh)
		}
	})
}

// A device whose caret moves 100 times at once sends it twice: at once,
// and the latest once SelectionInterval has passed; the members get that
// latest one.
func TestPresenceDeviceCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, cl, doc, ctx := presenceWorld(t, 9, nil, nil)
		a, b := cl[0], cl[1]
		da := w.openDevice(ctx, w.enroll(a, "phone"), doc)
		db := w.openDevice(ctx, w.enroll(b, "tablet"), doc)
		if err := da.EditFunc(insertAt(0, strings.Repeat("x", 100))); err != nil {
			t.Fatal(err)
		}
		if err := da.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.WaitVersion(ctx, 1); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			if err := da.SetSelection(client.Selection{Anchor: i, Head: i + 1}); err != nil {
				t.Fatal(err)
			}
		}
		if n := da.Stats().SelectionsSent; n != 1 {
			t.Fatalf("%d carets sent at once, want 1", n)
		}
		netsim.WaitUntil(t, time.Minute, "the latest caret on the other device", func() bool {
			p := peerOf(db, a.Svc.ID())
			return p != nil && p.Sel == client.Selection{Anchor: 99, Head: 100}
		})
		if n := da.Stats().SelectionsSent; n != 2 {
			t.Fatalf("%d carets sent, want 2 (the first and the latest)", n)
		}
		if n := a.Svc.Stats().PresenceSent; n > 2 {
			t.Fatalf("the clone published %d carets for 2", n)
		}
	})
}

// A device drops a caret its clone has not refreshed within the device's
// PresenceTTL, though the clone still holds it.
func TestPresenceDeviceExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pa := cloneservice.DefaultParams()
		pa.Presence.Refresh, pa.Presence.TTL = 50*time.Second, time.Minute
		w, cl, doc, ctx := presenceWorld(t, 10, &pa, nil)
		a, b := cl[0], cl[1]
		cp := client.DefaultParams()
		cp.PresenceTTL = 3 * time.Second
		da := w.openDevice(ctx, w.enroll(a, "phone"), doc)
		db := w.openDevice(ctx, w.enroll(b, "tablet"), doc, client.WithParams(cp))
		if err := da.SetSelection(client.Selection{}); err != nil {
			t.Fatal(err)
		}
		netsim.WaitUntil(t, time.Minute, "the caret arrives", func() bool { return peerOf(db, a.Svc.ID()) != nil })
		set := time.Now()
		for peerOf(db, a.Svc.ID()) != nil { // the device signals the expiry
			select {
			case <-db.PresenceUpdates():
			case <-ctx.Done():
				t.Fatal("the caret never expired on the device")
			}
		}
		if took := time.Since(set); took >= presence.DefaultParams().TTL {
			t.Fatalf("dropped after %v: by the clone's expiry, not the device's", took)
		}
	})
}
