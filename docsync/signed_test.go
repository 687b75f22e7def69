package docsync_test

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

// An entry whose signature a validator verified is committed without a
// second check; a forged one is refused by VerifyEntrySignature; and one
// verified against another key is verified again by the replica.
func TestHandleSignedEntry(t *testing.T) {
	w := newWorld(t)
	a := w.newClone(true)
	b := w.newClone(false)
	es := w.order()
	if len(es) != 1 {
		t.Fatalf("%d genesis entries", len(es))
	}
	v, err := docsync.VerifyEntrySignature(es[0], w.seqPub())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.r.HandleSignedEntry(v); err != nil {
		t.Fatal(err)
	}
	if a.r.Log().Seq() != 1 {
		t.Fatalf("seq %d after the genesis", a.r.Log().Seq())
	}
	forged := *es[0]
	forged.Head.Sig = append([]byte(nil), forged.Head.Sig...)
	forged.Head.Sig[0] ^= 1
	if _, err := docsync.VerifyEntrySignature(&forged, w.seqPub()); !errors.Is(err, docsync.ErrSequencerSignature) {
		t.Fatalf("forged head: %v, want ErrSequencerSignature", err)
	}
	otherKey := ed25519.NewKeyFromSeed(make([]byte, 32))
	forged.Head.Sign(otherKey)
	v2, err := docsync.VerifyEntrySignature(&forged, otherKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.r.HandleSignedEntry(v2); !errors.Is(err, docsync.ErrSequencerSignature) {
		t.Fatalf("entry verified against another key: %v, want ErrSequencerSignature", err)
	}
}
