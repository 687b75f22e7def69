package docsync_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

// handleOnly hands entries to x alone.
func handleOnly(w *world, x *clone, es []*docsync.Entry) {
	for _, e := range es {
		_ = x.r.HandleEntry(e)
		w.drain(x)
	}
}

// A split brain: a, cut off with c, takes over from its head base while
// b commits base+1 and base+2 from the old sequencer. c heard the old
// sequencer's head for base+1 before the cut, not its entry; it then
// follows the takeover for base+1 without a fork alarm (two heads by two
// keys are no fork). b learns of the takeover from a's later head alone
// (the takeover's own entry never reached it): that makes it ask for its
// next entry, a serves its takeover entry first (TakeoverFor), and b
// refuses it with a move conflict: what Rollback follows.
func TestSplitBrainHeals(t *testing.T) {
	w, a, b, c := threeMembers(t)
	if err := w.insert(a, 0, "base "); err != nil {
		t.Fatal(err)
	}
	w.settle()
	base := a.r.Log().Seq()
	_ = w.insert(b, 0, "b1 ")
	old := w.order() // base+1, by the old sequencer
	handleOnly(w, b, old)
	if err := c.r.HandleHead(old[0].Head); err != nil {
		t.Fatalf("c takes the old sequencer's head for %d: %v", base+1, err)
	}
	_ = w.insert(b, 0, "b2 ")
	handleOnly(w, b, w.order()) // base+2, b only

	newKey := newSequencerKey(w)
	newPub := newKey.Public().(ed25519.PublicKey)
	if err := a.r.Takeover(newPub, ""); err != nil {
		t.Fatal(err)
	}
	w.drain(a)
	next := adopt(w, newKey, a.entries[:base])
	mv := orderWith(w, next)
	handleOnly(w, a, mv)
	handleOnly(w, c, mv)
	if p := c.r.Halted(); p != nil {
		t.Fatalf("c halted on a false fork at seq %d", p.A.Seq)
	}
	if !bytes.Equal(c.r.Log().Sequencer(), newPub) || c.r.Log().Seq() != base+1 {
		t.Fatalf("c at seq %d did not follow the takeover at %d", c.r.Log().Seq(), base+1)
	}
	if _, _, missing := c.r.Missing(); missing {
		t.Fatal("c still counts the old sequencer's head as missing")
	}
	_ = w.insert(a, 0, "a1 ") // a's side reaches b's seq, not beyond
	handleOnly(w, a, orderWith(w, next))
	h, _ := a.r.HeadAt(a.r.Log().Seq())
	if h.Seq != b.r.Log().Seq() {
		t.Fatalf("a at %d, b at %d", h.Seq, b.r.Log().Seq())
	}
	b.fetch = nil
	_ = b.r.HandleHead(h)
	w.drain(b)
	if len(b.fetch) != 1 || b.fetch[0].From != b.r.Log().Seq()+1 {
		t.Fatalf("b asked for %v after a head signed by the new key", b.fetch)
	}
	if a.r.Log().TakeoverFor(base+1, base+1) != nil || a.r.Log().TakeoverFor(base+2, base+3) != nil {
		t.Fatal("a serves its takeover before a range, or one entry, that holds it")
	}
	tk := a.r.Log().TakeoverFor(b.fetch[0].From, b.fetch[0].To)
	if tk == nil || tk.Head.Seq != base+1 {
		t.Fatalf("a serves %v first, want its takeover at %d", tk, base+1)
	}
	handleOnly(w, b, []*docsync.Entry{tk})
	if b.r.MoveConflict() == nil {
		t.Fatal("b did not meet the takeover")
	}
}
