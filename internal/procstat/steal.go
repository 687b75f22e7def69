package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// CPUTicks are the machine's CPU time counters from /proc/stat's "cpu"
// line, in ClockTicks: the total over every state and the part stolen
// (a virtual machine's CPUs running someone else, by the hypervisor).
type CPUTicks struct {
	Total, Steal uint64
}

// ParseCPUTicks reads the first "cpu " line of /proc/stat: user, nice,
// system, idle, iowait, irq, softirq, steal, then guest and guest_nice,
// which user and nice already include. Kernels before 2.6.11 have no
// steal field: it reads as 0.
func ParseCPUTicks(stat []byte) (CPUTicks, error) {
	for _, line := range bytes.Split(stat, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("cpu "))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 4 {
			return CPUTicks{}, fmt.Errorf("%w: /proc/stat cpu line has %d fields", ErrFormat, len(f))
		}
		var t CPUTicks
		for i, v := range f[:min(len(f), 8)] { // guest and guest_nice are in user and nice
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return CPUTicks{}, fmt.Errorf("%w: /proc/stat cpu field %d %q", ErrFormat, i+1, v)
			}
			t.Total += n
			if i == 7 {
				t.Steal = n
			}
		}
		return t, nil
	}
	return CPUTicks{}, fmt.Errorf("%w: no cpu line in /proc/stat", ErrFormat)
}

// ReadCPUTicks reads the machine's CPU counters.
func ReadCPUTicks() (CPUTicks, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUTicks{}, err
	}
	return ParseCPUTicks(b)
}

// StealShare is the share of the machine's CPU time stolen between a and
// b (0 when no time passed).
func StealShare(a, b CPUTicks) float64 {
	if b.Total <= a.Total || b.Steal < a.Steal {
		return 0
	}
	return float64(b.Steal-a.Steal) / float64(b.Total-a.Total)
}
