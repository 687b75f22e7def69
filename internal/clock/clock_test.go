package clock

import (
	"testing"
	"time"
)

func TestFake(t *testing.T) {
	start := time.Unix(100, 0)
	f := NewFake(start)
	c, stop := f.NewTicker(time.Second)
	got := make(chan time.Time, 10)
	go func() {
		for x := range c {
			got <- x
		}
	}()
	f.Advance(500 * time.Millisecond) // not due
	f.Advance(500 * time.Millisecond) // due at 1s
	if x := <-got; !x.Equal(start.Add(time.Second)) {
		t.Fatalf("tick at %v", x)
	}
	f.Advance(3 * time.Second) // three periods behind: one tick, at 4s
	if x := <-got; !x.Equal(start.Add(4 * time.Second)) {
		t.Fatalf("tick at %v", x)
	}
	if f.Tickers() != 1 {
		t.Fatalf("%d tickers", f.Tickers())
	}
	stop()
	f.Advance(10 * time.Second) // a stopped ticker gets nothing, and Advance does not block
	if f.Tickers() != 0 || !f.Now().Equal(start.Add(14*time.Second)) {
		t.Fatalf("%d tickers at %v", f.Tickers(), f.Now())
	}
	select {
	case x := <-got:
		t.Fatalf("tick after stop at %v", x)
	case <-time.After(10 * time.Millisecond):
	}
}
