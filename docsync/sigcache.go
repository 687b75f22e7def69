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
// bytes verified before (the key is SHA-256 over the three, length
// prefixed); only successful verifications are remembered, so a forged or
// altered signature is checked, and refused, every time. It holds at most
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
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	if c == nil {
		return ed25519.Verify(pub, msg, sig)
	}
	k := sigKey(pub, msg, sig)
	if c.seen(k) {
		return true
	}
	if !ed25519.Verify(pub, msg, sig) {
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

func sigKey(pub, msg, sig []byte) Hash {
	p := newSHA256()
	p.varb(pub)
	p.varb(msg)
	p.varb(sig)
	return p.done()
}
