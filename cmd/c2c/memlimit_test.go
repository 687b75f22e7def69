package main

import (
	"errors"
	"math"
	"runtime/debug"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1500", 1500}, {"1500MB", 1_500_000_000}, {"2GiB", 2 << 30}, {"2 gib", 2 << 30},
		{"64KiB", 64 << 10}, {"3kb", 3000}, {"7B", 7}, {"1GB", 1e9}, {"5MiB", 5 << 20},
	} {
		got, err := parseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "MB", "-1", "1.5GB", "2TB", "1e9", "9999999999GiB", "GiB2"} {
		if n, err := parseSize(in); !errors.Is(err, errBadSize) {
			t.Errorf("parseSize(%q) = %d, %v; want errBadSize", in, n, err)
		}
	}
}

// TestApplyMemoryLimit: the limit is set and heap-growth collections
// (and with them the runtime's forced 2-minute one) are off; 0 changes
// nothing.
func TestApplyMemoryLimit(t *testing.T) {
	prevPct := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevPct); debug.SetMemoryLimit(prevLimit) })

	applyMemoryLimit(0)
	if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64); pct != 100 || limit != math.MaxInt64 {
		t.Fatalf("applyMemoryLimit(0) changed GOGC to %d, the limit to %d", pct, limit)
	}
	applyMemoryLimit(3 << 30)
	if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64); pct != -1 || limit != 3<<30 {
		t.Fatalf("after applyMemoryLimit(3 GiB): GOGC %d, limit %d; want -1 (off) and %d", pct, limit, 3<<30)
	}
}

func TestSizeListFlag(t *testing.T) {
	var l []int64
	f := sizeListFlag{&l}
	if err := f.Set("1600MB,0"); err != nil || len(l) != 2 || l[0] != 1_600_000_000 || l[1] != 0 {
		t.Fatalf("Set(1600MB,0): %v, %v", l, err)
	}
	if got := f.String(); got != "1600000000,0" {
		t.Fatalf("String() = %q", got)
	}
	if err := f.Set("1GB,x"); !errors.Is(err, errBadSize) {
		t.Fatalf("Set(1GB,x) = %v; want errBadSize", err)
	}
}
