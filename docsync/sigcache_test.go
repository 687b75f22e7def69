package docsync

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/clone2clone/c2c/docsync/ot"
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

// Replicas of one process that share a cache (Config.Sigs) verify the
// entries they all receive once between them: each decodes its own copy,
// as clones fetching the same history do, and the second commits the log
// without a curve verification. A tampered copy is still refused.
func TestReplicasShareVerifiedSignatures(t *testing.T) {
	seqPub, seqPriv, _ := ed25519.GenerateKey(nil)
	var doc DocID
	doc[0] = 7
	creator, _ := NewIdentity(nil)
	a, err := Create(Config{Doc: doc, Sequencer: seqPub, Identity: creator})
	if err != nil {
		t.Fatal(err)
	}
	// Order what the creator submits, by hand: seq, chain and head signature.
	var log [][]byte
	prev := GenesisHash(doc)
	for i := 0; i < 5; i++ {
		rd := a.Ready()
		for _, env := range rd.Submit {
			e := &Entry{Head: Head{Doc: doc, Seq: uint64(len(log) + 1), ChainHash: ChainHash(prev, env.Digest())}, Envelope: *env}
			e.Head.Sign(seqPriv)
			prev = e.Head.ChainHash
			b, err := e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			log = append(log, b)
			a.Advance()
			if err := a.HandleEntry(e); err != nil {
				t.Fatal(err)
			}
		}
		a.Advance()
		op, err := ot.FromPatch(a.LocalLen(), 0, 0, "x")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Propose(op); err != nil {
			t.Fatal(err)
		}
	}
	if len(log) < 5 {
		t.Fatalf("the creator's log holds %d entries, want 5 or more", len(log))
	}
	replay := func(c *SigCache, tamper bool) error {
		id, _ := NewIdentity(nil)
		r, err := New(Config{Doc: doc, Sequencer: seqPub, Identity: id, Sigs: c})
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range log {
			e, err := DecodeEntry(b)
			if err != nil {
				t.Fatal(err)
			}
			if tamper && i == len(log)-1 {
				e.Envelope.Sig[0] ^= 1
			}
			if err := r.HandleEntry(e); err != nil {
				return err
			}
			r.Advance()
		}
		if r.Log().Seq() != uint64(len(log)) {
			t.Fatalf("replayed to seq %d of %d", r.Log().Seq(), len(log))
		}
		return nil
	}
	c := NewSigCache(64)
	if err := replay(c, false); err != nil {
		t.Fatal(err)
	}
	_, first := c.Stats()
	if first < uint64(len(log)) {
		t.Fatalf("%d verifications for %d entries: the replica did not use the cache", first, len(log))
	}
	if err := replay(c, false); err != nil {
		t.Fatal(err)
	}
	if hits, misses := c.Stats(); misses != first || hits < first {
		t.Fatalf("the second replica: %d misses after %d, %d hits; want no new miss", misses, first, hits)
	}
	if err := replay(c, true); err == nil {
		t.Fatal("a tampered author signature was accepted through the cache")
	}
}
