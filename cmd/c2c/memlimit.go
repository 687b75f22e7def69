package main

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitHelp is --memory-limit's flag help.
const memoryLimitHelp = `garbage-collect on a soft memory limit of SIZE (e.g. 1600MB, 2GiB; 0: Go's default, GOGC=100) with GOGC off: ` +
	`no collection until the process's Go memory nears SIZE, so none of the runtime's forced ones every 2 minutes over an idle heap; ` +
	`the RSS grows to about SIZE. Set SIZE well above the live heap: near it the collector runs often (docs/operator.md)`

// applyMemoryLimit puts the process's garbage collector on a soft memory
// limit of limit bytes with heap-growth collections off (GOGC=off): the
// runtime then collects only when its memory nears the limit, and it
// skips its forced collection every 2 minutes, which it runs only while
// GOGC is on. That forced cycle marks every live object, so on a
// provider holding thousands of idle clones (about 1 GB of live heap,
// little allocation) it was most of the idle CPU. limit 0 leaves Go's
// defaults (and GOGC/GOMEMLIMIT from the environment) alone.
func applyMemoryLimit(limit int64) {
	if limit <= 0 {
		return
	}
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(-1)
}

// errBadSize is wrapped by every parseSize failure.
var errBadSize = errors.New("bad size")

// parseSize reads a byte count: digits with an optional unit, B, KB, MB,
// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), case-insensitive.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1}}
	mult := int64(1)
	lower := strings.ToLower(t)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			mult, t = u.mult, strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w %q: want a whole number of bytes with an optional unit (B, KB, MB, GB, KiB, MiB, GiB)", errBadSize, s)
	}
	if n > 0 && mult > (1<<62)/n {
		return 0, fmt.Errorf("%w %q: too large", errBadSize, s)
	}
	return n * mult, nil
}

// sizeFlag is a pflag.Value of a byte count written as parseSize reads it.
type sizeFlag struct{ n *int64 }

func (f sizeFlag) String() string {
	if f.n == nil || *f.n == 0 {
		return "0"
	}
	return strconv.FormatInt(*f.n, 10)
}

func (f sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*f.n = n
	return nil
}

func (sizeFlag) Type() string { return "size" }

// sizeListFlag is a pflag.Value of comma-separated byte counts.
type sizeListFlag struct{ l *[]int64 }

func (f sizeListFlag) String() string {
	if f.l == nil {
		return ""
	}
	var parts []string
	for _, n := range *f.l {
		parts = append(parts, strconv.FormatInt(n, 10))
	}
	return strings.Join(parts, ",")
}

func (f sizeListFlag) Set(s string) error {
	var l []int64
	for _, part := range strings.Split(s, ",") {
		n, err := parseSize(part)
		if err != nil {
			return err
		}
		l = append(l, n)
	}
	*f.l = l
	return nil
}

func (sizeListFlag) Type() string { return "sizes" }
