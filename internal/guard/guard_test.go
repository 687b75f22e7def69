package guard

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimiterRefillsAndBoundsKeys(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLimiter[string](Rate{PerSecond: 2, Burst: 3}, 2)
	for i := range 3 {
		if !l.Allow("a", t0) {
			t.Fatalf("token %d refused", i)
		}
	}
	if l.Allow("a", t0) {
		t.Fatal("fourth token in the same instant allowed")
	}
	if !l.Allow("a", t0.Add(500*time.Millisecond)) {
		t.Fatal("a token did not refill in 0.5 s at 2/s")
	}
	if !l.AllowN("b", 3, t0) {
		t.Fatal("second key refused")
	}
	// Both keys are in debt: a third key finds no room.
	if l.Allow("c", t0.Add(500*time.Millisecond)) {
		t.Fatal("third key allowed while two keys are in debt")
	}
	// Once they refilled, they are forgotten to make room.
	if !l.Allow("c", t0.Add(10*time.Second)) || l.Keys() != 1 {
		t.Fatalf("third key refused after refill, keys=%d", l.Keys())
	}
}

func TestRefusalsCountAllLogOncePerInterval(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	r := NewRefusals(slog.New(slog.NewTextHandler(&buf, nil)), "test", "invitation", time.Minute,
		func() time.Time { return now })
	for range 5 {
		r.Refuse("p1", "policy", nil)
	}
	r.Refuse("p2", "quota", nil)
	now = now.Add(time.Minute)
	r.Refuse("p1", "policy", nil)
	if got := strings.Count(buf.String(), "refused"); got != 3 {
		t.Fatalf("%d log lines, want 3 (p1, p2, p1 a minute later):\n%s", got, buf.String())
	}
	c := r.Counts()
	if c["policy"] != 6 || c["quota"] != 1 {
		t.Fatalf("counts %v", c)
	}
}
