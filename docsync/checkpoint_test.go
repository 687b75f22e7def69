package docsync_test

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

// A log restored from a checkpoint orders the next envelopes exactly as
// the log it was taken from.
func TestCheckpointRestoresLogState(t *testing.T) {
	w, a, b, c := threeMembers(t)
	edits(w, rand.New(rand.NewPCG(9, 9)), []*clone{a, b, c}, 40)
	l := w.seq.Log()
	cp, err := l.Checkpoint(16)
	if err != nil {
		t.Fatal(err)
	}
	r, err := docsync.RestoreLogState(cp, w.doc, w.seqPub())
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq() != l.Seq() || r.HeadHash() != l.HeadHash() || r.Base() != l.Seq()-16 ||
		!reflect.DeepEqual(r.Membership().Members(), l.Membership().Members()) {
		t.Fatalf("restored at %d base %d, want %d", r.Seq(), r.Base(), l.Seq())
	}
	for _, m := range l.Membership().Members() {
		if r.Counter(m.ID) != l.Counter(m.ID) {
			t.Fatal("counters differ")
		}
	}
	// The next envelope checks the same on both.
	if err := w.insert(b, 0, "x"); err != nil {
		t.Fatal(err)
	}
	env := w.outbox[len(w.outbox)-1]
	_, e1 := l.Check(env)
	_, e2 := r.Check(env)
	if e1 != nil || e2 != nil {
		t.Fatalf("check: %v, restored %v", e1, e2)
	}
	if _, err := docsync.RestoreLogState(cp, docsync.DocID{1}, w.seqPub()); err == nil {
		t.Fatal("a checkpoint of another document restored")
	}
}

// FuzzRestoreLogState: disk bytes never panic the checkpoint decoder.
func FuzzRestoreLogState(f *testing.F) {
	w, a, b, c := threeMembers(&testing.T{})
	edits(w, rand.New(rand.NewPCG(1, 2)), []*clone{a, b, c}, 10)
	cp, err := w.seq.Log().Checkpoint(4)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cp)
	f.Add(cp[:len(cp)/2])
	f.Add([]byte{})
	mw, ma, _, _ := movedDoc(&testing.T{}) // a checkpoint with a key schedule
	mcp, err := ma.r.Log().Checkpoint(4)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mcp)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = docsync.RestoreLogState(b, w.doc, w.seqPub())
		_, _ = docsync.RestoreLogState(b, mw.doc, mw.seqPub())
	})
}
