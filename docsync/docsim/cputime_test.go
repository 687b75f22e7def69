package docsim

import "syscall"

// cpuTime returns this process's user+system CPU seconds. Benchmarks report
// it next to wall time because the shared CI box is often oversubscribed.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
