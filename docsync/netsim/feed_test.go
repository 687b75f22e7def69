package netsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync/netproto"
)

// waitFeeds waits until every clone of d has its feed open and the
// sequencer counts them.
func waitFeeds(t *testing.T, d *Doc) {
	t.Helper()
	WaitUntil(t, time.Minute, "every member's feed is open", func() bool {
		for _, c := range d.Clones {
			if c.Svc.Stats().Feeds != 1 {
				return false
			}
		}
		return d.Seq.Svc.Stats().Feeds == int64(len(d.Clones))
	})
}

// TestEntriesComeOnFeeds: once every member's feed is open, each entry
// reaches each member once, on its feed, and none goes on the entries
// topic.
func TestEntriesComeOnFeeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		clones := []*Clone{n.AddClone(), n.AddClone(), n.AddClone(), n.AddClone()}
		d := n.NewDoc(seq, clones...)
		waitFeeds(t, d)
		before := seq.Svc.Stats()
		fedBefore := make([]uint64, len(clones))
		for i, c := range clones {
			fedBefore[i] = c.Svc.Stats().FeedEntries
		}
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(3, 4))
		for i := range 40 {
			if err := clones[i%len(clones)].Svc.EditFunc(ctx, d.ID, RandomEdit(rng)); err != nil {
				t.Fatal(err)
			}
		}
		d.WaitConverged(time.Minute)
		after := seq.Svc.Stats()
		ordered := after.Ordered - before.Ordered
		if ordered == 0 {
			t.Fatal("nothing was ordered")
		}
		if got := after.Gossiped - before.Gossiped; got != 0 {
			t.Fatalf("%d entries went on the entries topic with every feed open", got)
		}
		if got, want := after.Fed-before.Fed, ordered*uint64(len(clones)); got != want {
			t.Fatalf("the sequencer fed %d entries, want %d (%d entries x %d members)", got, want, ordered, len(clones))
		}
		for i, c := range clones {
			if got := c.Svc.Stats().FeedEntries - fedBefore[i]; got != ordered {
				t.Fatalf("clone %d got %d entries on its feed, want %d", i, got, ordered)
			}
		}
	})
}

// TestFeedCatchesUpAfterItBreaks: a member whose connection to the
// sequencer drops reopens its feed from the seq it lacks and converges.
func TestFeedCatchesUpAfterItBreaks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 10*time.Millisecond)
		seq := n.AddSequencer()
		a, b, c := n.AddClone(), n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, a, b, c)
		waitFeeds(t, d)
		_ = c.H.Network().ClosePeer(seq.H.ID())
		WaitUntil(t, time.Minute, "c's feed ends", func() bool { return c.Svc.Stats().Feeds == 0 })
		honestEdit(t, d, a, b, "while c's feed was down")
		honestEdit(t, d, b, c, "and after")
		d.WaitConverged(time.Minute)
		waitFeeds(t, d)
	})
}

// TestFeedAndPushOnlyForTheirOwners: a stranger cannot open a feed of a
// document, and a member that is not the document's sequencer cannot push
// its entries, even genuine ones.
func TestFeedAndPushOnlyForTheirOwners(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 10*time.Millisecond)
		seq := n.AddSequencer()
		a, b := n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, a, b)
		honestEdit(t, d, a, b, "secret")
		ctx := context.Background()

		refused := seq.Svc.Refusals()["feed_not_member"]
		evil := n.AddPeer(nil, nil)
		Connect(t, evil, seq.Peer)
		st, err := evil.H.NewStream(ctx, seq.H.ID(), netproto.FeedProtocol)
		if err != nil {
			t.Fatal(err)
		}
		if err := netproto.WriteFrame(st, netproto.FeedRequest{Doc: d.ID, From: 1}.Marshal()); err != nil {
			t.Fatal(err)
		}
		if b, err := netproto.ReadFrame(bufio.NewReader(st), netproto.MaxFrame); err == nil || len(b) > 0 {
			t.Fatalf("the sequencer fed a stranger: %d bytes, %v", len(b), err)
		}
		if seq.Svc.Refusals()["feed_not_member"] != refused+1 {
			t.Fatalf("refusals: %v", seq.Svc.Refusals())
		}

		es, err := netproto.FetchHistory(ctx, b.H, seq.H.ID(), d.ID, 1, 10)
		if err != nil || len(es) == 0 {
			t.Fatalf("fetch: %d entries, %v", len(es), err)
		}
		var raw [][]byte
		for _, e := range es {
			eb, err := e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			raw = append(raw, eb)
		}
		if err := netproto.PushEntries(ctx, b.H, a.H.ID(), raw); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		WaitUntil(t, time.Minute, "the push is refused", func() bool {
			return a.Svc.Refusals()["push_not_sequencer"] == 1
		})
	})
}

// TestUnfedMembersGetEntriesPushedWhileFew: a member on the entries topic
// without a feed gets each entry pushed to it while such members are few
// (at most 16 while others have a feed, or at most a quarter of the
// topic), and the entries go on
// the topic once more of them lack a feed (a publication is then cheaper
// than the pushes). Either way every member gets every entry.
func TestUnfedMembersGetEntriesPushedWhileFew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 10*time.Millisecond)
		seq := n.AddSequencer()
		clones := n.AddClones(20)
		d := n.NewDoc(seq, clones...)
		waitFeeds(t, d)
		// From now on a feed that ends cannot reopen.
		seq.H.RemoveStreamHandler(netproto.FeedProtocol)
		endFeeds := func(cs ...*Clone) {
			t.Helper()
			for _, c := range cs {
				for _, conn := range seq.H.Network().ConnsToPeer(c.H.ID()) {
					for _, st := range conn.GetStreams() {
						if st.Protocol() == netproto.FeedProtocol {
							_ = st.Reset()
						}
					}
				}
				WaitUntil(t, time.Minute, "the feed ends", func() bool { return c.Svc.Stats().Feeds == 0 })
			}
		}
		last := clones[len(clones)-1]
		edits := func(what string) (pushed, gossiped uint64) {
			t.Helper()
			before := seq.Svc.Stats()
			for i := range 4 {
				honestEdit(t, d, clones[i%2], last, fmt.Sprintf("%s %d", what, i))
			}
			d.WaitConverged(time.Minute)
			after := seq.Svc.Stats()
			return after.Pushed - before.Pushed, after.Gossiped - before.Gossiped
		}

		endFeeds(last) // one of twenty: pushed
		if pushed, gossiped := edits("one unfed"); pushed < 4 || gossiped != 0 {
			t.Fatalf("one member of 20 without a feed: %d entries pushed, %d gossiped; want >= 4 pushed, none gossiped", pushed, gossiped)
		}
		endFeeds(clones[14:19]...) // six of twenty, more than a quarter but few: pushed
		if pushed, gossiped := edits("six unfed"); pushed < 4*6 || gossiped != 0 {
			t.Fatalf("six members of 20 without a feed: %d entries pushed, %d gossiped; want >= 24 pushed, none gossiped", pushed, gossiped)
		}
		endFeeds(clones[3:14]...) // seventeen of twenty: gossiped
		if pushed, gossiped := edits("17 unfed"); pushed != 0 || gossiped < 4 {
			t.Fatalf("17 members of 20 without a feed: %d entries pushed, %d gossiped; want none pushed, >= 4 gossiped", pushed, gossiped)
		}
	})
}
