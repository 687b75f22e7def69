package docsync_test

import (
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

// TestForgedSnapshotRefused: a flipped byte, a stranger's snapshot, a
// snapshot naming another seq's head, one under another sequencer and one
// whose body does not open are all refused before anything is kept.
func TestForgedSnapshotRefused(t *testing.T) {
	w, a, b, c := threeMembers(t)
	rng := rand.New(rand.NewPCG(5, 5))
	edits(w, rng, []*clone{a, b, c}, 40)
	snap := snapshotMidFlight(t, w, a, b, c)
	joiner := b.id
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: joiner}
	trustA := func(m docsync.MemberID) bool { return m == a.r.ID() }
	join := func(bs []byte, trusted func(docsync.MemberID) bool) error {
		s, err := docsync.DecodeSealedSnapshot(bs)
		if err != nil {
			return err
		}
		_, err = docsync.Join(cfg, s, trusted)
		return err
	}
	if err := join(snap.Bytes(), trustA); err != nil {
		t.Fatalf("the honest snapshot: %v", err)
	}
	raw := snap.Bytes()
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x01
		if join(bad, trustA) == nil {
			t.Fatalf("byte %d of %d flipped: accepted", i, len(raw))
		}
	}
	resigned := func(mut func(s *docsync.SealedSnapshot), priv ed25519.PrivateKey) []byte {
		s, err := docsync.DecodeSealedSnapshot(raw)
		if err != nil {
			t.Fatal(err)
		}
		mut(s)
		if err := docsync.ResignSnapshotForTest(s, priv); err != nil {
			t.Fatal(err)
		}
		return s.Bytes()
	}
	// A stranger lists itself as a member of its own snapshot.
	stranger, _ := docsync.NewIdentity(seededReader{rng})
	forged := resigned(func(s *docsync.SealedSnapshot) {
		s.Maker = stranger.ID()
		s.Members = append(s.Members, docsync.Member{ID: stranger.ID(), HPKEPub: stranger.HPKEPublic(), Role: docsync.RoleAdmin})
		sortMembers(s.Members)
	}, stranger.Sign)
	if err := join(forged, trustA); !errors.Is(err, docsync.ErrUntrustedSnapshot) {
		t.Fatalf("stranger's snapshot: %v, want ErrUntrustedSnapshot", err)
	}
	if err := join(forged, nil); !errors.Is(err, docsync.ErrUntrustedSnapshot) {
		t.Fatalf("no trust anchor: %v, want ErrUntrustedSnapshot", err)
	}
	// A member's snapshot that names another seq's (genuine) head over
	// the window of its own.
	other, _ := a.r.HeadAt(snap.Seq() - 3)
	base3, _ := a.r.Log().HashAt(3)
	if err := join(resigned(func(s *docsync.SealedSnapshot) {
		s.Head, s.WindowBase, s.WindowBaseHash, s.WindowDigests = other, 3, base3, s.WindowDigests[6:]
	}, a.id.Sign), trustA); !errors.Is(err, docsync.ErrSnapshotChain) {
		t.Fatalf("another seq's head: %v, want ErrSnapshotChain", err)
	}
	// A window digest changed: the window no longer chains to the head.
	if err := join(resigned(func(s *docsync.SealedSnapshot) { s.WindowDigests[0][0] ^= 1 }, a.id.Sign), trustA); !errors.Is(err, docsync.ErrSnapshotChain) {
		t.Fatalf("changed window: %v, want ErrSnapshotChain", err)
	}
	// A head signed by another sequencer.
	_, otherSeq, _ := ed25519.GenerateKey(seededReader{rng})
	if err := join(resigned(func(s *docsync.SealedSnapshot) { s.Head.Sign(otherSeq) }, a.id.Sign), trustA); !errors.Is(err, docsync.ErrSequencerSignature) {
		t.Fatalf("head by another sequencer: %v, want ErrSequencerSignature", err)
	}
	// A maker who is not a member at the head.
	if err := join(resigned(func(s *docsync.SealedSnapshot) { s.Maker = stranger.ID() }, stranger.Sign),
		func(docsync.MemberID) bool { return true }); !errors.Is(err, docsync.ErrNotMember) {
		t.Fatalf("non-member maker: %v, want ErrNotMember", err)
	}
	// A body that does not open under the epoch key.
	if err := join(resigned(func(s *docsync.SealedSnapshot) { s.Body[0] ^= 1 }, a.id.Sign), trustA); !errors.Is(err, docsync.ErrSnapshotBody) {
		t.Fatalf("garbage body: %v, want ErrSnapshotBody", err)
	}
}

func sortMembers(ms []docsync.Member) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && string(ms[j].ID[:]) < string(ms[j-1].ID[:]); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// FuzzDecodeSealedSnapshot: a stranger's bytes never panic the decoder or
// the checks after it.
func FuzzDecodeSealedSnapshot(f *testing.F) {
	w, a, b, c := threeMembers(&testing.T{})
	edits(w, rand.New(rand.NewPCG(1, 1)), []*clone{a, b, c}, 20)
	s, err := a.r.SealSnapshot(8)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Bytes())
	f.Add(s.Bytes()[:len(s.Bytes())/2])
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x20})
	mw, ma, _, _ := movedDoc(&testing.T{}) // a snapshot with a key schedule and its signed move
	ms, err := ma.r.SealSnapshot(8)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ms.Bytes())
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: b.id}
	f.Fuzz(func(t *testing.T, bs []byte) {
		s, err := docsync.DecodeSealedSnapshot(bs)
		if err != nil {
			return
		}
		_ = s.Verify(mw.doc, mw.seqPub())
		_ = s.Verify(w.doc, w.seqPub())
		_, _ = docsync.Join(cfg, s, func(docsync.MemberID) bool { return true })
	})
}
