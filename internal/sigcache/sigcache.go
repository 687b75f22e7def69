// Package sigcache remembers the Ed25519 signatures that verified in this
// process, so that one signature is verified once per process and not once
// per component that checks it.
//
// A provider hosts many clones in one process (c2c provider --host-clones,
// c2c bench paper's cloud side), and the clones that share a document all
// check the same committed entry: its sequencer's signature on the head and
// its author's signature on the envelope. Without the cache sixteen clones
// of one document do sixteen Ed25519 verifications of each signature (about
// 50 us each here); with it, one and fifteen lookups.
//
// Only successes are kept, under the SHA-256 of the public key, the
// signature and the message together, so an entry is found only for the
// exact bytes that verified: a result is a pure function of those bytes,
// and a stranger can add nothing without a valid signature. The cache is
// bounded (oldest first out) and never grows with what a peer announces.
package sigcache

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// DefaultSize is the capacity of Shared: the signatures of the last few
// thousand entries, far more than the window in which the clones of one
// process check the same entry, in about 2 MB.
const DefaultSize = 1 << 14

// Shared is the process's cache, used by Verify.
var Shared = New(DefaultSize)

// Verify is Shared.Verify.
func Verify(pub ed25519.PublicKey, msg, sig []byte) bool { return Shared.Verify(pub, msg, sig) }

type key [sha256.Size]byte

// Cache is a bounded set of signatures that verified; safe for concurrent use.
type Cache struct {
	mu   sync.Mutex
	seen map[key]struct{}
	ring []key // insertion order; next is overwritten next
	next int
	full bool

	hits, misses uint64
}

// New returns a cache of at most size signatures (at least 1).
func New(size int) *Cache {
	size = max(size, 1)
	return &Cache{seen: make(map[key]struct{}, size), ring: make([]key, size)}
}

// Verify reports whether sig is pub's Ed25519 signature of msg, as
// ed25519.Verify does, except that a public key or signature of the wrong
// size is false rather than a panic. A signature that verified before is
// not verified again.
func (c *Cache) Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	k := keyOf(pub, msg, sig)
	c.mu.Lock()
	_, ok := c.seen[k]
	if ok {
		c.hits++
	} else {
		c.misses++
	}
	c.mu.Unlock()
	if ok {
		return true
	}
	if !ed25519.Verify(pub, msg, sig) {
		return false
	}
	c.add(k)
	return true
}

// Stats returns how many calls found their signature (hits) and how many
// verified it (misses, failures included).
func (c *Cache) Stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

func (c *Cache) add(k key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[k]; ok {
		return // verified meanwhile by another caller
	}
	if c.full {
		delete(c.seen, c.ring[c.next])
	}
	c.ring[c.next] = k
	c.seen[k] = struct{}{}
	c.next++
	if c.next == len(c.ring) {
		c.next, c.full = 0, true
	}
}

// keyOf hashes the public key and signature (fixed sizes) and then the
// message, with the message's length first, so no two triples share a key.
func keyOf(pub, msg, sig []byte) key {
	h := sha256.New()
	h.Write(pub)
	h.Write(sig)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(msg)))
	h.Write(n[:])
	h.Write(msg)
	var k key
	h.Sum(k[:0])
	return k
}
