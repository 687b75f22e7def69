package docsync

import (
	"crypto/ed25519"
	"fmt"
	"testing"
)

func TestSigCacheOnlyRemembersWhatVerified(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	msg := []byte("head 7")
	sig := ed25519.Sign(priv, msg)
	bad := append([]byte(nil), sig...)
	bad[3] ^= 1

	for _, c := range []*SigCache{nil, NewSigCache(8)} {
		for i := range 3 {
			if !c.Verify(pub, msg, sig) {
				t.Fatalf("cache %v, try %d: a good signature refused", c != nil, i)
			}
			if c.Verify(pub, msg, bad) || c.Verify(other, msg, sig) || c.Verify(pub, []byte("head 8"), sig) {
				t.Fatalf("cache %v, try %d: a changed signature, key or message accepted", c != nil, i)
			}
			if c.Verify(pub[:31], msg, sig) || c.Verify(pub, msg, sig[:63]) {
				t.Fatalf("cache %v: a short key or signature accepted", c != nil)
			}
		}
	}
	c := NewSigCache(8)
	c.Verify(pub, msg, sig)
	c.Verify(pub, msg, sig)
	c.Verify(pub, msg, bad)
	c.Verify(pub, msg, bad)
	if h, m := c.Stats(); h != 1 || m != 3 {
		t.Fatalf("hits %d misses %d, want 1 and 3 (a refused signature is verified again)", h, m)
	}
}

// The cache holds at most its size, and what is in use survives rotations.
func TestSigCacheIsBounded(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	c := NewSigCache(8)
	hot := []byte("hot")
	hotSig := ed25519.Sign(priv, hot)
	for i := range 100 {
		m := fmt.Appendf(nil, "msg %d", i)
		if !c.Verify(pub, m, ed25519.Sign(priv, m)) || !c.Verify(pub, hot, hotSig) {
			t.Fatal("a good signature refused")
		}
		if n := len(c.cur) + len(c.old); n > 8 {
			t.Fatalf("holds %d digests, more than 8", n)
		}
	}
	if h, m := c.Stats(); m != 101 || h != 99 {
		t.Fatalf("hits %d misses %d, want 99 and 101", h, m)
	}
}

// Envelopes and heads checked through a cache refuse what VerifyAuthor and
// Verify refuse.
func TestVerifyInRefusesWhatVerifyRefuses(t *testing.T) {
	id, _ := NewIdentity(nil)
	env := &Envelope{Author: id.ID(), Counter: 1, Body: []byte("x")}
	env.Sign(id.Sign)
	seqPub, seqPriv, _ := ed25519.GenerateKey(nil)
	h := &Head{Seq: 1}
	h.Sign(seqPriv)
	c := NewSigCache(16)
	fresh := func() *Envelope { e := *env; e.checked = Hash{}; return &e } // as decoded by another clone
	if err := fresh().VerifyAuthorIn(c); err != nil {
		t.Fatal(err)
	}
	if err := h.VerifyIn(c, seqPub); err != nil {
		t.Fatal(err)
	}
	changed := fresh()
	changed.Body = []byte("y")
	if changed.VerifyAuthorIn(c) == nil {
		t.Fatal("a changed body verified through the cache")
	}
	h2 := *h
	h2.Seq = 2
	if h2.VerifyIn(c, seqPub) == nil || h.VerifyIn(c, id.ID().PublicKey()) == nil {
		t.Fatal("a changed head, or one checked against another key, verified through the cache")
	}
	if err := fresh().VerifyAuthorIn(c); err != nil {
		t.Fatal(err)
	}
	if hits, _ := c.Stats(); hits != 1 {
		t.Fatalf("hits %d, want 1 (the second fresh copy)", hits)
	}
}
