package docsync_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// newSequencerKey returns a second sequencer's key for w's document.
func newSequencerKey(w *world) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(seededReader{w.rng})
	if err != nil {
		w.t.Fatal(err)
	}
	return k
}

// adopt returns the in-memory sequencer, signing with key, that adopted
// the history entries.
func adopt(w *world, key ed25519.PrivateKey, entries []*docsync.Entry) *sequencer.Memory {
	w.t.Helper()
	ref, err := sequencer.Adopt(w.doc, key, entries)
	if err != nil {
		w.t.Fatal(err)
	}
	return sequencer.NewMemoryFrom(ref, entries)
}

// orderWith has s order every submitted envelope and returns the entries.
func orderWith(w *world, s *sequencer.Memory) []*docsync.Entry {
	var out []*docsync.Entry
	for len(w.outbox) > 0 {
		env := w.outbox[0]
		w.outbox = w.outbox[1:]
		for _, d := range s.Submit(env) {
			out = append(out, d.Entry)
		}
	}
	return out
}

func rejections(c *clone) []docsync.Event {
	var out []docsync.Event
	for _, ev := range c.events {
		if ev.Kind == docsync.EventRejected {
			out = append(out, ev)
		}
	}
	return out
}

// A takeover while b's and c's edits wait at a stalled sequencer: the new
// sequencer orders the move from a's head, b and c resubmit to it, the old
// sequencer's late entries are ignored without a rejection, every edit is
// in the text once, and a restored replica is on the new sequencer.
func TestTakeover(t *testing.T) {
	w, a, b, c := threeMembers(t)
	if err := w.insert(a, 0, "base "); err != nil {
		t.Fatal(err)
	}
	w.settle()
	base := a.r.Log().Seq()
	_ = w.insert(b, 0, "B1 ")
	_ = w.insert(c, 0, "C1 ")
	_ = w.insert(a, 0, "A1 ")
	stuck := w.outbox // the old sequencer stalls: nothing is ordered
	w.outbox = nil
	_ = w.insert(b, 0, "B2 ") // buffered behind b's envelope in flight

	newKey := newSequencerKey(w)
	newPub := newKey.Public().(ed25519.PublicKey)
	if err := a.r.Takeover(newPub, "/ip4/127.0.0.1/udp/1/quic-v1"); err != nil {
		t.Fatal(err)
	}
	w.drain(a)
	next := adopt(w, newKey, a.entries[:base])
	moveEntries := orderWith(w, next)
	if len(moveEntries) != 1 || moveEntries[0].Head.Seq != base+1 {
		t.Fatalf("the new sequencer ordered %d entries for the takeover", len(moveEntries))
	}
	w.deliver(moveEntries)
	// The old sequencer wakes up and orders what it was sent: ignored.
	w.outbox = append(stuck, w.outbox...)
	var late []*docsync.Entry
	for _, env := range stuck {
		for _, d := range w.seq.Submit(env) {
			late = append(late, d.Entry)
		}
	}
	w.outbox = w.outbox[len(stuck):]
	if len(late) == 0 {
		t.Fatal("the old sequencer ordered nothing")
	}
	w.deliver(late)
	for len(w.outbox) > 0 {
		w.deliver(orderWith(w, next))
	}
	for _, x := range []*clone{a, b, c} {
		if !bytes.Equal(x.r.Log().Sequencer(), newPub) {
			t.Fatalf("clone %v is not on the new sequencer", x.r.ID())
		}
		if x.r.Text() != a.r.Text() || x.r.Log().HeadHash() != a.r.Log().HeadHash() || x.r.Busy() {
			t.Fatalf("clones differ: %q / %q", x.r.Text(), a.r.Text())
		}
		if r := rejections(x); len(r) > 0 {
			t.Fatalf("clone %v rejected %d entries: %v", x.r.ID(), len(r), r[0].Err)
		}
	}
	for _, s := range []string{"base ", "A1 ", "B1 ", "B2 ", "C1 "} {
		if strings.Count(a.r.Text(), s) != 1 {
			t.Fatalf("%q appears %d times in %q", s, strings.Count(a.r.Text(), s), a.r.Text())
		}
	}
	mv := a.r.Log().Moves()
	if len(mv) != 1 || mv[0].Seq != base+1 || mv[0].From != base+1 || mv[0].Addr == "" {
		t.Fatalf("moves %+v", mv)
	}
	if h := next.Head(a.r.ID()); h.Seq != a.r.Log().Seq() || h.ChainHash != a.r.Log().HeadHash() {
		t.Fatal("the new sequencer's head differs from the clones'")
	}
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: b.id, Rand: seededReader{w.rng}}
	rb, err := docsync.Restore(cfg, b.entries, b.pending)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rb.Log().Sequencer(), newPub) || rb.Text() != b.r.Text() || rb.Log().HeadHash() != b.r.Log().HeadHash() {
		t.Fatal("restored replica differs")
	}
}

// A planned handover: the old sequencer orders the move and nothing after
// it (ErrMoved); the new one continues from the move's head.
func TestHandover(t *testing.T) {
	w, a, b, _ := threeMembers(t)
	if err := w.insert(a, 0, "one "); err != nil {
		t.Fatal(err)
	}
	w.settle()
	newKey := newSequencerKey(w)
	newPub := newKey.Public().(ed25519.PublicKey)
	if err := a.r.Move(newPub, ""); err != nil {
		t.Fatal(err)
	}
	w.drain(a)
	_ = w.insert(b, 0, "two ") // sent to the old sequencer after the move
	w.deliver(w.order())
	if a.r.Log().Sequencer() == nil || !bytes.Equal(a.r.Log().Sequencer(), newPub) {
		t.Fatal("not moved")
	}
	if w.seq.Rejected != 1 {
		t.Fatalf("the old sequencer refused %d envelopes, want b's one after the move", w.seq.Rejected)
	}
	if _, err := w.seq.Order(w.outbox[0]); !errors.Is(err, docsync.ErrMoved) {
		t.Fatalf("old sequencer after the move: %v, want ErrMoved", err)
	}
	m := a.r.Log().Moves()[0]
	next := adopt(w, newKey, a.entries[:m.Seq])
	for len(w.outbox) > 0 {
		w.deliver(orderWith(w, next))
	}
	if a.r.Text() != "two one " || b.r.Text() != a.r.Text() || a.r.Log().HeadHash() != b.r.Log().HeadHash() {
		t.Fatalf("texts %q %q", a.r.Text(), b.r.Text())
	}
	if m.From != m.Seq+1 {
		t.Fatalf("handover at %d signs from %d", m.Seq, m.From)
	}
}

// A member that committed an entry of the old sequencer after the
// takeover's base refuses the takeover with ErrMoveConflict (no fork);
// writers and readers cannot move a document.
func TestTakeoverConflictAndRights(t *testing.T) {
	w, a, b, c := threeMembers(t)
	w.settle()
	if err := b.r.Takeover(w.seqPub(), ""); !errors.Is(err, docsync.ErrBadMemberOp) {
		t.Fatalf("takeover to the current sequencer: %v", err)
	}
	newKey := newSequencerKey(w)
	newPub := newKey.Public().(ed25519.PublicKey)
	if err := b.r.Takeover(newPub, ""); !errors.Is(err, docsync.ErrNoWriteRight) {
		t.Fatalf("a writer's takeover: %v", err)
	}
	base := a.r.Log().Seq()
	_ = w.insert(c, 0, "c")
	late := w.order() // ordered by the old sequencer at base+1; only b sees it
	for _, e := range late {
		_ = b.r.HandleEntry(e)
		w.drain(b)
	}
	if err := a.r.Takeover(newPub, ""); err != nil {
		t.Fatal(err)
	}
	w.drain(a)
	mv := orderWith(w, adopt(w, newKey, a.entries[:base]))
	err := b.r.HandleEntry(mv[0])
	if !errors.Is(err, docsync.ErrMoveConflict) {
		t.Fatalf("b took a takeover older than its head: %v", err)
	}
	if b.r.Halted() != nil {
		t.Fatal("a conflicting takeover raised a fork")
	}
}

// FuzzHostileTakeover: whoever is not an admin sends a "takeover" entry
// of any body, signed by a sequencer key of its own, at the next seq. The
// replica must not panic, halt or switch sequencers.
func FuzzHostileTakeover(f *testing.F) {
	w, a, b, _ := threeMembers(&testing.T{})
	w.settle()
	base := append([]*docsync.Entry(nil), a.entries...)
	rogue := newSequencerKey(w)
	rogueOp := &docsync.MemberOp{Type: docsync.OpMove, Member: b.r.ID(), Sequencer: rogue.Public().(ed25519.PublicKey), Takeover: true}
	seed, _ := rogueOp.Marshal()
	for _, back := range []uint8{0, 1, 2, 3} {
		f.Add(seed, back)
	}
	f.Add([]byte{0x08, 0x05}, uint8(0))
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: a.id, Rand: seededReader{w.rng}}
	f.Fuzz(func(t *testing.T, body []byte, back uint8) {
		r, err := docsync.Restore(cfg, base, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Odd back: at the next seq; even: at our head (a conflicting takeover).
		seq := r.Log().Seq() + uint64(back)%2
		head := r.Log().Seq()
		parent := seq - 1 - uint64(back/2)%(seq-1)
		ph, _ := r.Log().HashAt(parent)
		env := &docsync.Envelope{Doc: w.doc, Author: b.r.ID(), Counter: r.Log().Counter(b.r.ID()) + 1,
			Parent: parent, ParentHash: ph, Epoch: r.Log().Membership().Epoch(), Kind: docsync.KindMember, Body: body}
		env.Sign(b.id.Sign)
		prev, _ := r.Log().HashAt(seq - 1)
		e := &docsync.Entry{Head: docsync.Head{Doc: w.doc, Seq: seq, ChainHash: docsync.ChainHash(prev, env.Digest())}, Envelope: *env}
		e.Head.Sign(rogue)
		_ = r.HandleEntry(e)
		if !bytes.Equal(r.Log().Sequencer(), w.seqPub()) || r.Halted() != nil || r.Log().Seq() != head || r.MoveConflict() != nil {
			t.Fatalf("a writer's takeover took effect: seq %d, halted %v, conflict %v", r.Log().Seq(), r.Halted(), r.MoveConflict() != nil)
		}
	})
}

// A member ahead of a takeover's base (it committed another member's edit
// and its own from the old sequencer) rolls back to follow it: its own
// edit after the base and its in-flight one are sent to the new sequencer,
// the other member resends its own, and everyone converges with every
// edit once. The device's text goes from the old text to the new one by
// the Update the rollback reports.
func TestRollbackFollowsTakeover(t *testing.T) {
	w, a, b, c := threeMembers(t)
	w.settle()
	snapB, err := b.r.SealSnapshot(docsync.DefaultSnapshotWindow) // what b keeps once it compacted
	if err != nil {
		t.Fatal(err)
	}
	if err := w.insert(a, 0, "base "); err != nil {
		t.Fatal(err)
	}
	w.settle()
	base := a.r.Log().Seq()
	onlyTo := func(x *clone, es []*docsync.Entry) {
		for _, e := range es {
			_ = x.r.HandleEntry(e)
			w.drain(x)
		}
	}
	_ = w.insert(c, 0, "c1 ")
	onlyTo(b, w.order()) // the old sequencer's seq base+1 reaches b only
	_ = w.insert(b, 0, "b1 ")
	onlyTo(b, w.order()) // b's own edit at base+2, b only
	_ = w.insert(b, 0, "b2 ")
	w.outbox = nil // b2 in flight to the old sequencer, which then stops
	if b.r.Log().Seq() != base+2 || c.r.Log().Seq() != base {
		t.Fatalf("b at %d, c at %d", b.r.Log().Seq(), c.r.Log().Seq())
	}

	newKey := newSequencerKey(w)
	if err := a.r.Takeover(newKey.Public().(ed25519.PublicKey), ""); err != nil {
		t.Fatal(err)
	}
	w.drain(a)
	next := adopt(w, newKey, a.entries[:base])
	mv := orderWith(w, next)
	w.deliver(mv) // a and c follow; b refuses (ErrMoveConflict)
	if b.r.MoveConflict() == nil {
		t.Fatal("b did not record the conflicting takeover")
	}
	before := b.r.Text()
	nb, err := b.r.Rollback(b.entries[:base], b.entries[base:], b.r.MoveConflict())
	if err != nil {
		t.Fatal(err)
	}
	// A compacted b rolls back from its snapshot and the entries after it
	// to the same replica.
	p := snapB.Seq()
	ns, err := b.r.RollbackFromSnapshot(snapB, b.entries[p:base], b.entries[base:], b.r.MoveConflict())
	if err != nil {
		t.Fatal(err)
	}
	if ns.Text() != nb.Text() || ns.Log().HeadHash() != nb.Log().HeadHash() || !bytes.Equal(ns.Log().Sequencer(), nb.Log().Sequencer()) {
		t.Fatalf("rollback from the snapshot at %d: %q, want %q", p, ns.Text(), nb.Text())
	}
	if _, err := b.r.RollbackFromSnapshot(snapB, b.entries[p+1:base], b.entries[base:], b.r.MoveConflict()); err == nil {
		t.Fatal("rollback with a gap after the snapshot succeeded")
	}
	rd := nb.Ready()
	if len(rd.Updates) != 1 || len(rd.Entries) != 1 || len(rd.Submit) != 1 {
		t.Fatalf("rollback Ready: %d updates, %d entries, %d submits", len(rd.Updates), len(rd.Entries), len(rd.Submit))
	}
	dev, err := ot.ApplyString(before, rd.Updates[0].Op)
	if err != nil || dev != nb.Text() {
		t.Fatalf("device text %q after the update, replica %q (%v)", dev, nb.Text(), err)
	}
	b.r, b.entries = nb, b.entries[:base]
	w.drain(b)
	for len(w.outbox) > 0 {
		w.deliver(orderWith(w, next))
	}
	for _, x := range []*clone{a, b, c} {
		if x.r.Text() != a.r.Text() || x.r.Log().HeadHash() != a.r.Log().HeadHash() || x.r.Busy() {
			t.Fatalf("clones differ: %q / %q", x.r.Text(), a.r.Text())
		}
	}
	for _, s := range []string{"base ", "c1 ", "b1 ", "b2 "} {
		if strings.Count(a.r.Text(), s) != 1 {
			t.Fatalf("%q appears %d times in %q", s, strings.Count(a.r.Text(), s), a.r.Text())
		}
	}
	if strings.Index(a.r.Text(), "b2 ") > strings.Index(a.r.Text(), "b1 ") {
		t.Fatalf("b's edits out of order in %q", a.r.Text()) // b typed each at 0
	}
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: b.id, Rand: seededReader{w.rng}}
	if rb, err := docsync.Restore(cfg, b.entries, b.pending); err != nil || rb.Text() != b.r.Text() {
		t.Fatalf("restore after the rollback: %v", err)
	}
}
