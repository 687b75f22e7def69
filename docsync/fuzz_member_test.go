package docsync_test

import (
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

// FuzzMaliciousMember: a writer with valid keys seals arbitrary op bytes
// with an arbitrary parent; the sequencer orders it. The receiving clone,
// which has its own edits in flight and buffered, must never panic, must
// commit the entry (as an op or a no-op) and must keep its local text equal
// to committed text + its own pending edits.
func FuzzMaliciousMember(f *testing.F) {
	w, a, b, _ := threeMembers(&testing.T{})
	_ = w.insert(a, 0, "shared text é𝄞")
	w.settle()
	_ = w.insert(b, 3, "XY")
	w.settle()
	base := append([]*docsync.Entry(nil), a.entries...)
	key, _ := b.r.EpochKeyForTest(b.r.Log().Membership().Epoch())
	for _, seed := range [][]byte{
		mustOp(ot.FromPatch(17, 2, 1, "z")), mustOp(ot.FromPatch(15, 0, 0, "q")), {0}, {1, 2, 3},
	} {
		f.Add(uint8(0), seed)
		f.Add(uint8(1), seed)
	}
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: a.id, Rand: seededReader{w.rng}}
	f.Fuzz(func(t *testing.T, back uint8, opBytes []byte) {
		r, err := docsync.Restore(cfg, base, nil)
		if err != nil {
			t.Fatal(err)
		}
		// a has one edit in flight and one buffered.
		for _, s := range []string{"A", "B"} {
			op, _ := ot.FromPatch(r.LocalLen(), 1, 0, s)
			if err := r.Propose(op); err != nil {
				t.Fatal(err)
			}
		}
		seq := r.Log().Seq() + 1
		parent := r.Log().Seq() - uint64(back)%r.Log().Seq()
		ph, _ := r.Log().HashAt(parent)
		env := &docsync.Envelope{Doc: w.doc, Author: b.r.ID(), Counter: r.Log().Counter(b.r.ID()) + 1,
			Parent: parent, ParentHash: ph, Epoch: r.Log().Membership().Epoch()}
		if err := env.SealEdit(key, seededReader{w.rng}, opBytes); err != nil {
			t.Fatal(err)
		}
		env.Sign(b.id.Sign)
		if err := r.HandleEntry(w.signEntry(seq, r.Log().HeadHash(), env)); err != nil {
			t.Fatalf("entry refused: %v", err)
		}
		if r.Log().Seq() != seq {
			t.Fatal("entry not committed")
		}
		for _, ev := range r.Ready().Events {
			if ev.Kind == docsync.EventNoop && !errors.Is(ev.Err, docsync.ErrDecrypt) && !errors.Is(ev.Err, docsync.ErrBadOp) {
				t.Fatalf("no-op with undocumented error %v", ev.Err)
			}
		}
		// Commit a's own in-flight edit, then its buffer: afterwards its local
		// text must equal the committed text.
		for range 2 {
			sub := r.Ready().Submit
			r.Advance()
			if len(sub) == 0 {
				t.Fatal("nothing submitted")
			}
			own := sub[len(sub)-1]
			if err := r.HandleEntry(w.signEntry(r.Log().Seq()+1, r.Log().HeadHash(), own)); err != nil {
				t.Fatalf("own entry refused: %v", err)
			}
		}
		if r.Text() != r.CommittedText() {
			t.Fatalf("local %q != committed %q", r.Text(), r.CommittedText())
		}
	})
}

func mustOp(op ot.Op, err error) []byte {
	if err != nil {
		panic(err)
	}
	b, err := op.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}
