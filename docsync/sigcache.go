package docsync

import (
	"crypto/ed25519"
	"sync"
)

// SigCache remembers which Ed25519 signatures were verified, so that clones
// sharing a process (c2c provider --host-clones, the latency bench) verify
// each sequencer head and author signature once between them, not once
// each: every member of a document receives the same entry, with the same
// signatures. A hit means these exact public key, message and signature
// bytes verified before (the key is streamedKey's); only successful
// verifications are remembered, so a forged or altered signature is
// checked, and refused, every time. It holds at most
// about size digests (two generations of size/2: when the newer fills, the
// older is dropped), 32 bytes each plus the map's overhead.
//
// A nil *SigCache verifies every time. It is safe for concurrent use.
type SigCache struct {
	mu       sync.Mutex
	half     int
	cur, old map[Hash]struct{}
	hits     uint64
	misses   uint64
}

// NewSigCache returns a cache of about size verified signatures (at least 2).
func NewSigCache(size int) *SigCache {
	half := max(size/2, 1)
	return &SigCache{half: half, cur: make(map[Hash]struct{}, half)}
}

// Verify reports whether sig is pub's valid signature of msg, as
// ed25519.Verify does (with the sizes checked first), without the curve
// arithmetic for a triple verified before.
func (c *SigCache) Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	return c.verifyStreamed(pub, sig, func(p *pooledSHA256) { p.fixed(msg) }, func() []byte { return msg })
}

// verifyStreamed is Verify for a message that write streams, field by
// field, into the cache key (the same key as Verify's of its bytes) and
// build returns whole. build runs only when the signature must be
// checked: on a hit (every member of a process after the first to get an
// entry) the message is never built.
func (c *SigCache) verifyStreamed(pub ed25519.PublicKey, sig []byte, write func(*pooledSHA256), build func() []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	if c == nil {
		return ed25519.Verify(pub, build(), sig)
	}
	k := streamedKey(pub, sig, write)
	if c.seen(k) {
		return true
	}
	if !ed25519.Verify(pub, build(), sig) {
		return false
	}
	c.add(k)
	return true
}

// Stats returns the hits and misses (verifications done) so far.
func (c *SigCache) Stats() (hits, misses uint64) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

func (c *SigCache) seen(k Hash) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; ok {
		c.hits++
		return true
	}
	if _, ok := c.old[k]; ok {
		c.hits++
		c.insert(k) // still in use: keep it past the next rotation
		return true
	}
	c.misses++
	return false
}

func (c *SigCache) add(k Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.insert(k)
}

func (c *SigCache) insert(k Hash) {
	if len(c.cur) >= c.half {
		c.old, c.cur = c.cur, make(map[Hash]struct{}, c.half)
	}
	c.cur[k] = struct{}{}
}

// streamedKey is the cache key of pub's signature sig over the message
// write streams: SHA-256 of the length-prefixed key and signature, then
// the message (its end is the input's, so the encoding is one to one).
func streamedKey(pub, sig []byte, write func(*pooledSHA256)) Hash {
	p := newSHA256()
	p.varb(pub)
	p.varb(sig)
	write(p)
	return p.done()
}
