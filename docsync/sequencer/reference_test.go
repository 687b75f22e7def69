package sequencer_test

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// genesis returns a signed genesis envelope from a document creator.
func genesis(t *testing.T, doc docsync.DocID, seqKey ed25519.PrivateKey) *docsync.Envelope {
	t.Helper()
	id, err := docsync.NewIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := docsync.Create(docsync.Config{Doc: doc, Sequencer: seqKey.Public().(ed25519.PublicKey), Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	sub := r.Ready().Submit
	if len(sub) != 1 {
		t.Fatalf("%d genesis envelopes", len(sub))
	}
	return sub[0]
}

func TestReferenceOrdersAndRestores(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	doc := docsync.DocID{1}
	s := sequencer.NewMemory(doc, key)
	g := genesis(t, doc, key)
	ds := s.Submit(g)
	if len(ds) != 1 || ds[0].Entry.Head.Seq != 1 || ds[0].Entry.Head.Verify(key.Public().(ed25519.PublicKey)) != nil {
		t.Fatalf("genesis not ordered: %v", ds)
	}
	if len(s.Submit(g)) != 0 || s.Rejected != 1 {
		t.Fatal("a replayed genesis was ordered")
	}
	other := genesis(t, doc, key)
	if _, err := s.Order(other); !errors.Is(err, docsync.ErrParentRange) && !errors.Is(err, docsync.ErrBadMemberOp) &&
		!errors.Is(err, docsync.ErrNotMember) {
		t.Fatalf("second genesis: %v", err)
	}
	// A restarted sequencer replays its persisted log and signs the same head.
	s2 := sequencer.NewReference(doc, key)
	for _, e := range s.Entries() {
		if err := s2.Restore(e); err != nil {
			t.Fatal(err)
		}
	}
	if s2.Head().ChainHash != s.Head(docsync.MemberID{}).ChainHash {
		t.Fatal("restored head differs")
	}
	bad := *s.Entries()[0]
	bad.Head.ChainHash[0] ^= 1
	if err := sequencer.NewReference(doc, key).Restore(&bad); !errors.Is(err, docsync.ErrChainHash) {
		t.Fatalf("tampered restore: %v", err)
	}
}

func TestBehaviourNames(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range sequencer.Behaviours {
		if seen[b.String()] {
			t.Fatalf("duplicate name %s", b)
		}
		seen[b.String()] = true
	}
	if len(seen) != 7 {
		t.Fatalf("%d behaviours", len(seen))
	}
}
