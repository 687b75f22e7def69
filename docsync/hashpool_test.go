package docsync

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// The streamed digests are the hashes of the bytes they stand for: an
// envelope's digest is SHA-256 of its signing bytes and its
// length-prefixed signature, a signature cache key SHA-256 of the
// length-prefixed key, message and signature.
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
		var b []byte
		for _, f := range [][]byte{pub, msg, sig} {
			b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
			b = append(b, f...)
		}
		if got, want := sigKey(pub, msg, sig), Hash(sha256.Sum256(b)); got != want {
			t.Fatalf("sigKey %x, want %x", got, want)
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
