package node

import (
	"testing"
	"time"
)

func TestBackoffDoublesAndCaps(t *testing.T) {
	b := newBackoff(time.Second, 10*time.Second, 0)
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i, w := range want {
		if got := b.next(0.5); got != w*time.Second {
			t.Fatalf("attempt %d: got %v want %v", i, got, w*time.Second)
		}
	}
	b.reset()
	if got := b.next(0.5); got != time.Second {
		t.Fatalf("after reset: %v", got)
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	b := newBackoff(time.Second, time.Minute, 0.2)
	if got := b.next(0); got != 800*time.Millisecond {
		t.Fatalf("r=0: %v", got)
	}
	b.reset()
	if got := b.next(0.999999); got <= 1199*time.Millisecond || got >= 1200*time.Millisecond {
		t.Fatalf("r→1: %v", got)
	}
}
