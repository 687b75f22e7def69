package docsync

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// The streamed digests are the hashes of the bytes they stand for: an
// envelope's digest is SHA-256 of its signing bytes and its
// length-prefixed signature, a signature cache key SHA-256 of the
// length-prefixed key and signature, then the message, whether the
// message is given whole (Verify) or streamed by its fields (an
// envelope's, a head's).
func TestStreamedDigestsHashTheCanonicalBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bytesOf := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for i := range 200 {
		e := &Envelope{Counter: rng.Uint64(), Parent: rng.Uint64(), Epoch: rng.Uint64(), Kind: Kind(rng.IntN(4)),
			Nonce: bytesOf(rng.IntN(40)), Body: bytesOf(rng.IntN(600)), Sig: bytesOf(64 * (i % 2))}
		copy(e.Doc[:], bytesOf(32))
		copy(e.Author[:], bytesOf(32))
		copy(e.ParentHash[:], bytesOf(32))
		want := sha256.Sum256(canon(e.SigningBytes()).varb(e.Sig))
		if got := e.Digest(); got != want {
			t.Fatalf("envelope %d: Digest %x, want %x", i, got, want)
		}
		pub, msg, sig := bytesOf(32), bytesOf(rng.IntN(300)), bytesOf(64)
		if got, want := streamedKey(pub, sig, func(p *pooledSHA256) { p.fixed(msg) }), keyOf(pub, msg, sig); got != want {
			t.Fatalf("message key %x, want %x", got, want)
		}
		if got, want := streamedKey(pub, sig, func(p *pooledSHA256) { e.writeSigning(p) }), keyOf(pub, e.SigningBytes(), sig); got != want {
			t.Fatalf("envelope %d: key %x, want %x", i, got, want)
		}
		h := &Head{Seq: rng.Uint64()}
		copy(h.Doc[:], bytesOf(32))
		copy(h.ChainHash[:], bytesOf(32))
		if got, want := streamedKey(pub, sig, func(p *pooledSHA256) { h.writeSigning(p) }), keyOf(pub, h.SigningBytes(), sig); got != want {
			t.Fatalf("head %d: key %x, want %x", i, got, want)
		}
	}
}

// Taking an envelope's digest allocates nothing (it is taken several times
// for every entry a clone receives).
func TestDigestAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled values at random")
	}
	e := &Envelope{Nonce: make([]byte, 24), Body: make([]byte, 300), Sig: make([]byte, 64)}
	if n := testing.AllocsPerRun(100, func() { _ = e.Digest() }); n != 0 {
		t.Errorf("Digest allocates %.1f times", n)
	}
}

// keyOf is the signature cache key by its definition: SHA-256 of the
// length-prefixed key and signature, then the message.
func keyOf(pub, msg, sig []byte) Hash {
	var b []byte
	for _, f := range [][]byte{pub, sig} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return sha256.Sum256(append(b, msg...))
}

// A signature the cache already holds is found without building the
// message: checking a fresh copy of a verified envelope, or head, allocates
// nothing (every member of a process after the first to get an entry).
func TestCachedSignatureCheckAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled values at random")
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	var author MemberID
	copy(author[:], pub)
	e := &Envelope{Author: author, Counter: 7, Nonce: make([]byte, 24), Body: make([]byte, 300)}
	e.Sign(priv)
	h := &Head{Seq: 9}
	h.Sign(priv)
	c := NewSigCache(16)
	if err := e.VerifyAuthorIn(c); err != nil {
		t.Fatal(err)
	}
	if err := h.VerifyIn(c, pub); err != nil {
		t.Fatal(err)
	}
	fresh := *e
	if n := testing.AllocsPerRun(100, func() {
		fresh.checked = Hash{}
		if err := fresh.VerifyAuthorIn(c); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("a cached author signature check allocates %.1f times", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := h.VerifyIn(c, pub); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("a cached head signature check allocates %.1f times", n)
	}
	// The cache still refuses what it did not verify.
	bad := *e
	bad.Counter++
	if err := bad.VerifyAuthorIn(c); err == nil {
		t.Fatal("an altered envelope passed through the cache")
	}
	if hits, _ := c.Stats(); hits < 200 {
		t.Errorf("%d cache hits, want the 200 checks above", hits)
	}
}
