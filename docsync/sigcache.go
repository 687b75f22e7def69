package docsync

import (
	"crypto/ed25519"
	"crypto/sha256"
	"sync"
	"sync/atomic"
)

// Signatures this process verified, remembered so that the same signature
// on the same bytes by the same key is checked once per process: a
// provider hosting many clones of one document's members (or the
// simulation, which hosts its clones as providers do) got every entry's
// head and author signatures, and every gossiped head, checked once per
// hosted clone. A gossiped head identical to the head of an entry a clone
// committed is the same signature too. Only signatures that verified are
// kept, under the SHA-256 of key, signature and signed bytes (about a
// microsecond against about 50 us for an Ed25519 check), so a changed
// byte, another key or a forged signature is checked, and refused, as
// before. Fork detection is untouched: two heads for one seq are two
// different signed messages, each verified, then compared.
//
// It is off unless the process turns it on (CacheVerifiedSignatures): a
// process running one clone gains nothing from it, and benchmarks of what
// one clone spends on an entry would measure the cache.
//
// The cache is bounded: sigCacheShards shards of two generations of at
// most sigCacheGen keys each (about 20 MB at most); when a shard's
// current generation is full the older one is dropped.
var verifiedSigs atomic.Pointer[sigCache]

// CacheVerifiedSignatures turns the process's cache of verified
// signatures on (see verifiedSigs): for a process that hosts many clones.
func CacheVerifiedSignatures() {
	if verifiedSigs.Load() == nil {
		verifiedSigs.CompareAndSwap(nil, newSigCache())
	}
}

const (
	sigCacheShards = 16
	sigCacheGen    = 1 << 14
)

type sigKey [sha256.Size]byte

type sigCache struct {
	shards [sigCacheShards]sigShard
}

type sigShard struct {
	mu       sync.Mutex
	cur, old map[sigKey]struct{}
}

func newSigCache() *sigCache {
	c := &sigCache{}
	for i := range c.shards {
		c.shards[i].cur = make(map[sigKey]struct{})
	}
	return c
}

// verifySig is ed25519.Verify with the process's cache in front.
func verifySig(pub ed25519.PublicKey, msg, sig []byte) bool {
	c := verifiedSigs.Load()
	if c == nil {
		return len(pub) == ed25519.PublicKeySize && len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
	}
	return c.verify(pub, msg, sig)
}

func (c *sigCache) verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	k := newSigKey(pub, msg, sig)
	sh := &c.shards[k[0]%sigCacheShards]
	if sh.has(k) {
		return true
	}
	if !ed25519.Verify(pub, msg, sig) {
		return false
	}
	sh.add(k)
	return true
}

func newSigKey(pub ed25519.PublicKey, msg, sig []byte) sigKey {
	h := sha256.New()
	h.Write(pub)
	h.Write(sig)
	h.Write(msg)
	var k sigKey
	h.Sum(k[:0])
	return k
}

func (s *sigShard) has(k sigKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cur[k]; ok {
		return true
	}
	_, ok := s.old[k]
	return ok
}

func (s *sigShard) add(k sigKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cur) >= sigCacheGen {
		s.old, s.cur = s.cur, make(map[sigKey]struct{}, sigCacheGen)
	}
	s.cur[k] = struct{}{}
}
