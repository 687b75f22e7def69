package procstat

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseRSS(t *testing.T) {
	status := "Name:\tc2c\nVmPeak:\t  900 kB\nVmRSS:\t   52344 kB\nRssAnon:\t 40000 kB\n"
	got, err := ParseRSS([]byte(status))
	if err != nil || got != 52344*1024 {
		t.Fatalf("ParseRSS = %d, %v; want %d", got, err, 52344*1024)
	}
	for name, bad := range map[string]string{
		"no line":   "Name:\tc2c\nState:\tZ (zombie)\n",
		"no unit":   "VmRSS:\t52344\n",
		"not int":   "VmRSS:\t5x kB\n",
		"wrong unt": "VmRSS:\t52344 MB\n",
	} {
		if _, err := ParseRSS([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
}

func TestParseCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 250, stime 130.
	stat := "4242 (c2c (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 130 0 0 20 0 12 0 100 0 0\n"
	got, err := ParseCPU([]byte(stat))
	if want := 3800 * time.Millisecond; err != nil || got != want {
		t.Fatalf("ParseCPU = %v, %v; want %v", got, err, want)
	}
	for name, bad := range map[string]string{
		"no paren": "4242 c2c S 1",
		"short":    "4242 (c2c) S 1 2 3",
		"not int":  "4242 (c2c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 x 130 0",
	} {
		if _, err := ParseCPU([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
}

func TestParseMeminfo(t *testing.T) {
	mi := "MemTotal:       24683520 kB\nMemFree:        23180000 kB\nMemAvailable:   24180000 kB\nHugePages_Total:       0\n"
	if got, err := ParseMeminfo([]byte(mi), "MemAvailable"); err != nil || got != 24180000*1024 {
		t.Fatalf("MemAvailable = %d, %v", got, err)
	}
	if got, err := ParseMeminfo([]byte(mi), "MemTotal"); err != nil || got != 24683520*1024 {
		t.Fatalf("MemTotal = %d, %v", got, err)
	}
	for _, field := range []string{"Mem", "HugePages_Total", "SwapTotal"} {
		if _, err := ParseMeminfo([]byte(mi), field); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", field, err)
		}
	}
}

func TestReadAndSampleSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	st, err := Read(os.Getpid())
	if err != nil || st.RSS == 0 {
		t.Fatalf("Read(self) = %+v, %v", st, err)
	}
	if _, err := Read(0x7ffffffe); err == nil {
		t.Fatal("Read of a missing process succeeded")
	}
	hit := make(chan uint64, 1)
	s := NewSampler(os.Getpid, time.Millisecond)
	s.OnLimit(1, func(rss uint64) { hit <- rss })
	s.Start()
	select {
	case rss := <-hit:
		if rss == 0 {
			t.Fatal("limit callback with RSS 0")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("limit callback not called")
	}
	if peak := s.Stop(); peak == 0 || s.Samples() < 2 {
		t.Fatalf("peak %d after %d samples", peak, s.Samples())
	}
	gone := NewSampler(func() int { return 0 }, time.Millisecond)
	gone.Start()
	if peak := gone.Stop(); peak != 0 || gone.Samples() != 0 {
		t.Fatalf("sampler of no process: peak %d, %d samples", peak, gone.Samples())
	}
}
