package seqservice

import (
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

func newTestFeed(m docsync.MemberID, queue int) *feed {
	return &feed{member: m, ch: make(chan []byte, queue), done: make(chan struct{})}
}

// A delivery goes to the feeds it is for; a feed whose queue is full is
// stopped and forgotten, the others keep theirs, and the loop never waits.
func TestDeliverDropsAFeedThatFellBehind(t *testing.T) {
	a, b, c := docsync.MemberID{1}, docsync.MemberID{2}, docsync.MemberID{3}
	fa, fb, fc := newTestFeed(a, 4), newTestFeed(b, 1), newTestFeed(c, 4)
	d := &docState{feeds: map[docsync.MemberID]*feed{a: fa, b: fb, c: fc}}

	if fed := d.deliver(delivery{seq: 1, bytes: []byte("e1")}); len(fed) != 3 {
		t.Fatalf("first entry fed %v, want all three", fed)
	}
	onlyA := func(m docsync.MemberID) bool { return m == a }
	if fed := d.deliver(delivery{seq: 2, bytes: []byte("e2"), to: onlyA}); len(fed) != 1 || !fed[a] {
		t.Fatalf("targeted entry fed %v, want only a", fed)
	}
	fed := d.deliver(delivery{seq: 3, bytes: []byte("e3")})
	if len(fed) != 2 || fed[b] {
		t.Fatalf("third entry fed %v, want a and c (b's queue is full)", fed)
	}
	if _, ok := d.feeds[b]; ok {
		t.Fatal("the feed that fell behind is still kept")
	}
	select {
	case <-fb.done:
	default:
		t.Fatal("the feed that fell behind was not stopped")
	}
	if len(fa.ch) != 3 || len(fc.ch) != 2 {
		t.Fatalf("queued: a %d (want 3), c %d (want 2)", len(fa.ch), len(fc.ch))
	}
}

// A removed member's feed ends; the members' stay.
func TestDropFormerMembers(t *testing.T) {
	a, b := docsync.MemberID{1}, docsync.MemberID{2}
	fa, fb := newTestFeed(a, 1), newTestFeed(b, 1)
	d := &docState{feeds: map[docsync.MemberID]*feed{a: fa, b: fb}}
	d.dropFormerMembers(map[docsync.MemberID]docsync.Role{a: docsync.RoleWriter})
	if d.feeds[a] != fa || d.feeds[b] != nil {
		t.Fatalf("feeds after b's removal: %v", d.feeds)
	}
	select {
	case <-fb.done:
	default:
		t.Fatal("the removed member's feed was not stopped")
	}
	fb.stop() // stopping twice is harmless
}
