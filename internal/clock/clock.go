// Package clock is the services' time seam: a now function and tickers
// made by a factory, the real ones by default and a Fake in unit tests,
// so that timer-driven policies (resubmits, fetch retries, dials, head
// gossip) are tested without a network or waiting.
package clock

import (
	"sync"
	"time"
)

// TickerFunc makes a ticker of period d: its channel and its stop function.
type TickerFunc func(d time.Duration) (<-chan time.Time, func())

// RealTicker is a time.Ticker.
func RealTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Fake is a manual clock: time moves only by Advance, which delivers each
// due tick of every live ticker (blocking until the ticker's reader takes
// it, so that a test knows the loop has seen it).
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

type fakeTicker struct {
	c       chan time.Time
	period  time.Duration
	next    time.Time
	stopped bool
}

// NewFake returns a Fake reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now is the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTicker is a TickerFunc on the fake time.
func (f *Fake) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), period: d, next: f.now.Add(d)}
	f.tickers = append(f.tickers, t)
	return t.c, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		t.stopped = true
	}
}

// Tickers is the number of live tickers (a test waits for its loop's).
func (f *Fake) Tickers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, t := range f.tickers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// Advance moves the time by d, delivering the ticks that fall due in
// order of time; like a time.Ticker, a ticker that fell several periods
// behind gets one tick, at the latest time.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	now := f.now
	var due []*fakeTicker
	for _, t := range f.tickers {
		if !t.stopped && !t.next.After(now) {
			for !t.next.After(now) {
				t.next = t.next.Add(t.period)
			}
			due = append(due, t)
		}
	}
	f.mu.Unlock()
	for _, t := range due {
		t.c <- now
	}
}
