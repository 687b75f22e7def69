// Package procstat reads a Linux process's resident memory and CPU time
// from /proc (the machine's memory from /proc/meminfo, its UDP datagrams
// sent from /proc/net/snmp, its CPU time stolen by the hypervisor from
// /proc/stat), and samples a
// process's peak resident memory while something runs.
// The parsers are pure; Read and Sampler touch /proc.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrFormat: a /proc file did not have the expected shape.
var ErrFormat = errors.New("procstat: unexpected /proc format")

// ClockTicks is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const ClockTicks = 100

// Stat is one reading of a process.
type Stat struct {
	RSS uint64        // resident set size in bytes (VmRSS)
	CPU time.Duration // user plus system CPU time (utime + stime)
}

// ParseRSS returns VmRSS, in bytes, from the text of /proc/PID/status.
func ParseRSS(status []byte) (uint64, error) {
	for _, line := range bytes.Split(status, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%w: VmRSS line %q", ErrFormat, line)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: VmRSS %q", ErrFormat, f[0])
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("%w: no VmRSS line (a zombie or kernel thread?)", ErrFormat)
}

// ParseCPU returns utime + stime from the text of /proc/PID/stat. The
// command name (field 2) is in parentheses and may itself hold spaces and
// parentheses, so fields are counted from the last ')'.
func ParseCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: no command name in stat", ErrFormat)
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state): utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: %d fields after the command name", ErrFormat, len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: CPU field %q", ErrFormat, s)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / ClockTicks, nil
}

// ParseMeminfo returns the field of /proc/meminfo's text (MemTotal,
// MemAvailable, ...) in bytes.
func ParseMeminfo(meminfo []byte, field string) (uint64, error) {
	for _, line := range strings.Split(string(meminfo), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != field {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%w: meminfo line %q", ErrFormat, line)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: meminfo %s %q", ErrFormat, field, f[0])
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("%w: no %s in meminfo", ErrFormat, field)
}

// Meminfo reads one field of /proc/meminfo, in bytes.
func Meminfo(field string) (uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	return ParseMeminfo(b, field)
}

// Read reads the process pid's RSS and CPU time.
func Read(pid int) (Stat, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return Stat{}, err
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return Stat{}, err
	}
	var s Stat
	if s.RSS, err = ParseRSS(status); err != nil {
		return Stat{}, err
	}
	if s.CPU, err = ParseCPU(stat); err != nil {
		return Stat{}, err
	}
	return s, nil
}
