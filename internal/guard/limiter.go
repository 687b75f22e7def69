package guard

import (
	"sync"
	"time"
)

// Rate is a token bucket's refill per second and its capacity.
type Rate struct {
	PerSecond float64
	Burst     float64
}

// Limiter is a set of token buckets, one per key. Safe for concurrent use.
type Limiter[K comparable] struct {
	rate    Rate
	maxKeys int

	mu      sync.Mutex
	buckets map[K]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a limiter of rate per key that tracks at most maxKeys
// keys: past that, buckets that have refilled are forgotten first (they
// carry no debt), then, if every key is in debt, the new key is refused.
func NewLimiter[K comparable](rate Rate, maxKeys int) *Limiter[K] {
	return &Limiter[K]{rate: rate, maxKeys: maxKeys, buckets: map[K]*bucket{}}
}

// AllowN takes n tokens from key's bucket at now, if it holds them.
func (l *Limiter[K]) AllowN(key K, n float64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys && !l.forgetFull(now) {
			return false
		}
		b = &bucket{tokens: l.rate.Burst, at: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// Allow takes one token.
func (l *Limiter[K]) Allow(key K, now time.Time) bool { return l.AllowN(key, 1, now) }

// Keys returns how many keys the limiter tracks.
func (l *Limiter[K]) Keys() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

func (l *Limiter[K]) refill(b *bucket, now time.Time) {
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.tokens = min(l.rate.Burst, b.tokens+dt*l.rate.PerSecond)
		b.at = now
	}
}

// forgetFull drops every bucket that is full again (lock held); it reports
// whether any room was made.
func (l *Limiter[K]) forgetFull(now time.Time) bool {
	freed := false
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.rate.Burst {
			delete(l.buckets, k)
			freed = true
		}
	}
	return freed
}
