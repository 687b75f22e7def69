package docsync_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

// movedDoc runs a handover and some edits on the new sequencer; it
// returns the world, the members and the new sequencer.
func movedDoc(t *testing.T) (*world, *clone, *clone, ed25519.PrivateKey) {
	w, a, b, _ := threeMembers(t)
	if err := w.insert(a, 0, "one "); err != nil {
		t.Fatal(err)
	}
	w.settle()
	newKey := newSequencerKey(w)
	if err := a.r.Move(newKey.Public().(ed25519.PublicKey), "/ip4/127.0.0.1/udp/9/quic-v1"); err != nil {
		t.Fatal(err)
	}
	w.drain(a)
	w.deliver(w.order())
	m := a.r.Log().Moves()[0]
	next := adopt(w, newKey, a.entries[:m.Seq])
	_ = w.insert(b, 0, "two ")
	_ = w.insert(a, 0, "three ")
	for len(w.outbox) > 0 {
		w.deliver(orderWith(w, next))
	}
	return w, a, b, newKey
}

// A snapshot sealed after a move carries the key schedule with the signed
// move: a clone that knows only the genesis key joins from it, is on the
// new sequencer, and checks the heads before and after the move with the
// right keys. A checkpoint keeps the schedule too.
func TestJoinFromSnapshotAfterMove(t *testing.T) {
	w, a, b, newKey := movedDoc(t)
	newPub := newKey.Public().(ed25519.PublicKey)
	snap, err := a.r.SealSnapshot(docsync.DefaultSnapshotWindow)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := docsync.DecodeSealedSnapshot(snap.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: b.id, Rand: seededReader{w.rng}}
	r, err := docsync.Join(cfg, dec, func(m docsync.MemberID) bool { return m == a.r.ID() })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Log().Sequencer(), newPub) || r.Text() != a.r.Text() || len(r.Log().Moves()) != 1 {
		t.Fatalf("joined on %x with %q and %d moves", r.Log().Sequencer(), r.Text(), len(r.Log().Moves()))
	}
	mv := a.r.Log().Moves()[0]
	if !bytes.Equal(r.Log().KeyAt(mv.Seq), w.seqPub()) || !bytes.Equal(r.Log().KeyAt(mv.From), newPub) {
		t.Fatal("the joined schedule names the wrong keys around the move")
	}
	// The joiner's genesis key must start the schedule.
	other := docsync.Config{Doc: w.doc, Sequencer: newPub, Identity: b.id, Rand: seededReader{w.rng}}
	if _, err := docsync.Join(other, dec, func(docsync.MemberID) bool { return true }); !errors.Is(err, docsync.ErrSnapshotChain) {
		t.Fatalf("join with another genesis key: %v, want ErrSnapshotChain", err)
	}
	cp, err := a.r.Log().Checkpoint(64)
	if err != nil {
		t.Fatal(err)
	}
	l, err := docsync.RestoreLogState(cp, w.doc, w.seqPub())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.Sequencer(), newPub) || !bytes.Equal(l.KeyAt(mv.Seq), w.seqPub()) || len(l.Moves()) != 1 {
		t.Fatal("checkpoint lost the key schedule")
	}
	sl, err := docsync.LogFromSnapshot(dec, w.seqPub())
	if err != nil || sl.Seq() != a.r.Log().Seq() || !bytes.Equal(sl.Sequencer(), newPub) {
		t.Fatalf("log from the snapshot: %v", err)
	}
}

// A maker who lies about the schedule: a sequencer key no move names, or a
// span without its signed move, and the snapshot is refused at decoding
// even though the maker's signature is good.
func TestSnapshotScheduleLies(t *testing.T) {
	w, a, _, _ := movedDoc(t)
	stranger := newSequencerKey(w).Public().(ed25519.PublicKey)
	for name, lie := range map[string]func(*docsync.SealedSnapshot){
		"spliced key":    func(s *docsync.SealedSnapshot) { docsync.SpliceSequencerForTest(s, stranger) },
		"no signed move": docsync.DropMoveProofForTest,
	} {
		s, err := a.r.SealSnapshot(docsync.DefaultSnapshotWindow)
		if err != nil {
			t.Fatal(err)
		}
		lie(s)
		if err := docsync.ResignSnapshotForTest(s, a.id.Sign); err != nil {
			t.Fatal(err)
		}
		if _, err := docsync.DecodeSealedSnapshot(s.Bytes()); !errors.Is(err, docsync.ErrMalformed) {
			t.Errorf("%s: decode = %v, want ErrMalformed", name, err)
		}
	}
}
