package scan

import "sync"

type cacheKey struct {
	sum     [32]byte
	version uint64
}

// A Cache holds verdicts keyed by (SHA-256, database version), so that a
// blob is scanned once per database version. It is safe for concurrent use
// and meant to be shared by every mirror of one provider process. When it
// holds max entries, a Put first evicts an arbitrary one.
type Cache struct {
	mu  sync.RWMutex
	max int
	m   map[cacheKey]Verdict
}

// NewCache returns a cache of at most limit entries (at least 1).
func NewCache(limit int) *Cache {
	return &Cache{max: max(1, limit), m: map[cacheKey]Verdict{}}
}

// Get returns the verdict cached for (sum, version).
func (c *Cache) Get(sum [32]byte, version uint64) (Verdict, bool) {
	c.mu.RLock()
	v, ok := c.m[cacheKey{sum, version}]
	c.mu.RUnlock()
	return v, ok
}

// Put caches v for (sum, version).
func (c *Cache) Put(sum [32]byte, version uint64, v Verdict) {
	k := cacheKey{sum, version}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
}

// Len returns how many verdicts the cache holds.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
