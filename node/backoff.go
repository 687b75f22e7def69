package node

import "time"

// backoff is the pure core of every retry loop in this package: exponential
// delays min, 2·min, 4·min, ... capped at max, each scaled by a factor in
// [1-jitter, 1+jitter) so that many clones that lost the same provider do not
// re-dial it in lockstep. It reads no clock and draws no randomness itself.
type backoff struct {
	min, max time.Duration
	jitter   float64
	attempt  int
}

func newBackoff(min, max time.Duration, jitter float64) backoff {
	return backoff{min: min, max: max, jitter: jitter}
}

// next returns the delay before the next attempt and counts the attempt; r
// is a uniform draw from [0, 1).
func (b *backoff) next(r float64) time.Duration {
	d := b.min
	for i := 0; i < b.attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	b.attempt++
	scale := 1 + b.jitter*(2*r-1)
	return time.Duration(float64(d) * scale)
}

// reset starts over from min after a success.
func (b *backoff) reset() { b.attempt = 0 }
