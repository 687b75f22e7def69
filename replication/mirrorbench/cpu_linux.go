package mirrorbench

import (
	"syscall"
	"time"
)

// threadCPU is the CPU time (user + system) the calling OS thread has used;
// callers lock their goroutine to its thread (runtime.LockOSThread).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
