package docsync_test

import (
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

// threeMembers returns a world with admin a and writers b and c.
func threeMembers(t *testing.T) (*world, *clone, *clone, *clone) {
	w := newWorld(t)
	a := w.newClone(true)
	w.settle()
	b := w.add(a, docsync.RoleWriter)
	c := w.add(a, docsync.RoleWriter)
	return w, a, b, c
}

func TestConcurrentInsertsConverge(t *testing.T) {
	w, a, b, c := threeMembers(t)
	for _, x := range []*clone{a, b, c} {
		if err := w.insert(x, 0, "base"); err != nil && x == a {
			t.Fatal(err)
		}
		w.settle()
		break
	}
	// Concurrent inserts at the same position: the earlier-ordered one wins the tie.
	if err := w.insert(b, 2, "B"); err != nil {
		t.Fatal(err)
	}
	if err := w.insert(c, 2, "C"); err != nil {
		t.Fatal(err)
	}
	if err := w.insert(a, 4, "!"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	want := "baBCse!"
	for i, x := range []*clone{a, b, c} {
		if got := x.r.Text(); got != want {
			t.Fatalf("clone %d text %q, want %q", i, got, want)
		}
		if x.r.Log().HeadHash() != a.r.Log().HeadHash() {
			t.Fatalf("clone %d head differs", i)
		}
	}
	if len(b.updates) == 0 {
		t.Fatal("b got no device updates")
	}
}

func TestBufferComposesWhileInFlight(t *testing.T) {
	w, a, _, _ := threeMembers(t)
	before := len(w.outbox)
	for i, s := range []string{"x", "y", "z"} {
		if err := w.insert(a, i, s); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(w.outbox) - before; got != 1 {
		t.Fatalf("%d envelopes in flight after 3 edits, want 1", got)
	}
	w.deliver(w.order())
	if len(w.outbox) != 1 {
		t.Fatalf("after the ack, %d envelopes submitted, want 1 (the composed buffer)", len(w.outbox))
	}
	w.settle()
	if a.r.Text() != "xyz" || a.r.CommittedText() != "xyz" {
		t.Fatalf("text %q committed %q", a.r.Text(), a.r.CommittedText())
	}
}

func TestReaderCannotPropose(t *testing.T) {
	w := newWorld(t)
	a := w.newClone(true)
	w.settle()
	r := w.add(a, docsync.RoleReader)
	if err := w.insert(r, 0, "x"); !errors.Is(err, docsync.ErrNotReady) {
		t.Fatalf("reader propose: %v", err)
	}
	outsider := w.newClone(false)
	if err := outsider.r.RemoveMember(a.r.ID()); !errors.Is(err, docsync.ErrNotReady) {
		t.Fatalf("non-admin remove: %v", err)
	}
}

func TestRemovedMemberCannotDecrypt(t *testing.T) {
	w, a, b, c := threeMembers(t)
	if err := w.insert(a, 0, "before"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	oldKey, ok := c.r.EpochKeyForTest(1)
	if !ok {
		t.Fatal("c has no epoch-1 key")
	}
	if err := a.r.RemoveMember(c.r.ID()); err != nil {
		t.Fatal(err)
	}
	w.drain(a)
	w.settle()
	if err := w.insert(b, 0, "secret "); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if a.r.Log().Membership().Epoch() != 2 || b.r.Text() != "secret before" {
		t.Fatalf("epoch %d text %q", a.r.Log().Membership().Epoch(), b.r.Text())
	}
	// c received every entry: it verifies the chain but holds no epoch-2 key.
	if c.r.Log().Seq() != a.r.Log().Seq() || c.r.HasEpochKey(2) || c.r.Text() != "before" {
		t.Fatalf("removed clone: seq %d/%d key2 %v text %q", c.r.Log().Seq(), a.r.Log().Seq(), c.r.HasEpochKey(2), c.r.Text())
	}
	var locked bool
	for _, ev := range c.events {
		locked = locked || (ev.Kind == docsync.EventLocked && errors.Is(ev.Err, docsync.ErrNoEpochKey))
	}
	if !locked {
		t.Fatal("removed clone reported no ErrNoEpochKey")
	}
	last := c.entries[len(c.entries)-1].Envelope
	if _, err := last.OpenEdit(oldKey); !errors.Is(err, docsync.ErrDecrypt) {
		t.Fatalf("old key opened a post-removal edit: %v", err)
	}
	// Its edits are refused: locally, and by the sequencer if forged by hand.
	if err := w.insert(c, 0, "x"); !errors.Is(err, docsync.ErrNotReady) {
		t.Fatalf("removed clone propose: %v", err)
	}
	env := last
	env.Author, env.Counter = c.r.ID(), 99
	env.Sign(c.id.Sign)
	if _, err := w.seq.Order(&env); !errors.Is(err, docsync.ErrNotMember) {
		t.Fatalf("sequencer accepted a removed member: %v", err)
	}
}

func TestLateJoinerReadsHistoryThroughKeyChain(t *testing.T) {
	w, a, b, c := threeMembers(t)
	_ = w.insert(a, 0, "one ")
	w.settle()
	_ = a.r.RemoveMember(c.r.ID())
	w.drain(a)
	w.settle()
	_ = w.insert(b, 4, "two")
	w.settle()
	d := w.add(a, docsync.RoleWriter) // joins in epoch 2, must read epoch-1 history
	if !d.r.HasEpochKey(1) || d.r.Text() != a.r.Text() || d.r.Text() != "one two" {
		t.Fatalf("joiner key1 %v text %q, admin %q", d.r.HasEpochKey(1), d.r.Text(), a.r.Text())
	}
}

func TestEpochChangeResealsInFlight(t *testing.T) {
	w, a, b, c := threeMembers(t)
	_ = a.r.RemoveMember(c.r.ID())
	w.drain(a)
	if err := w.insert(b, 0, "hi"); err != nil { // sealed under epoch 1
		t.Fatal(err)
	}
	w.settle() // the remove commits first; b's epoch-1 envelope is refused and re-sealed
	if b.r.Text() != "hi" || a.r.Text() != "hi" || b.r.CommittedText() != "hi" {
		t.Fatalf("a %q b %q", a.r.Text(), b.r.Text())
	}
	if w.seq.Rejected == 0 {
		t.Fatal("expected the sequencer to refuse the stale-epoch envelope")
	}
}

func TestGapRequestsFetch(t *testing.T) {
	w, a, b, _ := threeMembers(t)
	_ = w.insert(a, 0, "a")
	e1 := w.order()
	_ = w.insert(b, 0, "b")
	e2 := w.order()
	if err := b.r.HandleEntry(e2[0]); err != nil {
		t.Fatal(err)
	}
	w.drain(b)
	if len(b.fetch) == 0 || b.fetch[len(b.fetch)-1] != (docsync.FetchRange{From: e1[0].Head.Seq, To: e1[0].Head.Seq}) {
		t.Fatalf("fetch %v, want seq %d", b.fetch, e1[0].Head.Seq)
	}
	if from, to, ok := b.r.Missing(); !ok || from != e1[0].Head.Seq || to != e2[0].Head.Seq {
		t.Fatalf("missing %d..%d %v", from, to, ok)
	}
	b.r.Refetch()
	w.drain(b)
	if f := b.fetch[len(b.fetch)-1]; f.From != e1[0].Head.Seq {
		t.Fatalf("refetch %v", f)
	}
	w.deliver(append(e1, e2...))
	w.settle()
	if a.r.Text() != b.r.Text() {
		t.Fatalf("a %q b %q", a.r.Text(), b.r.Text())
	}
}

func TestRestoreFromPersistedState(t *testing.T) {
	w, a, b, _ := threeMembers(t)
	_ = w.insert(a, 0, "hello")
	w.settle()
	_ = w.insert(b, 5, " world") // in flight
	_ = w.insert(b, 0, ">")      // buffered
	w.outbox = w.outbox[:0]      // b crashes before its envelope reaches the sequencer
	_ = w.insert(a, 0, "A")      // a concurrent remote edit b will see after restart
	remote := w.order()
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: b.id}
	raw, err := b.pending.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pend, err := docsync.DecodePending(raw)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := docsync.Restore(cfg, b.entries, pend)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Text() != b.r.Text() {
		t.Fatalf("restored text %q, was %q", r2.Text(), b.r.Text())
	}
	b.r = r2 // the restored replica resends its in-flight envelope
	w.drain(b)
	w.deliver(remote)
	w.settle()
	for _, x := range []*clone{a, b} {
		if x.r.Text() != "A>hello world" {
			t.Fatalf("text %q", x.r.Text())
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	w, a, _, _ := threeMembers(t)
	_ = w.insert(a, 0, "snap é𝄞")
	w.settle()
	s, err := a.r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := docsync.DecodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "snap é𝄞" || len(got.Members) != 3 || got.Head.Verify(w.seqPub()) != nil {
		t.Fatalf("snapshot %+v", got)
	}
}

// Check that ot is the op model used by Propose (compile-time use).
var _ = ot.FromPatch

// TestMembersShareDecodedKeys checks that the members of a document, each
// decoding the same membership ops, hold one copy per process of each
// member's HPKE key (internal/intern): a provider hosts many of them.
func TestMembersShareDecodedKeys(t *testing.T) {
	_, a, b, c := threeMembers(t)
	ka, _ := b.r.Log().Membership().Get(c.r.ID())
	kb, _ := c.r.Log().Membership().Get(c.r.ID())
	kc, _ := a.r.Log().Membership().Get(c.r.ID())
	if len(ka.HPKEPub) == 0 || &ka.HPKEPub[0] != &kb.HPKEPub[0] || &kb.HPKEPub[0] != &kc.HPKEPub[0] {
		t.Fatal("members hold separate copies of one member's HPKE key")
	}
}
