package procstat

import (
	"errors"
	"testing"
)

const statSample = `cpu  584984 697 152507 753045 24001 0 13472 39542 10 0
cpu0 292000 300 76000 376000 12000 0 6700 19700 5 0
intr 1 2 3
`

func TestParseCPUTicks(t *testing.T) {
	got, err := ParseCPUTicks([]byte(statSample))
	want := CPUTicks{Total: 584984 + 697 + 152507 + 753045 + 24001 + 0 + 13472 + 39542, Steal: 39542}
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	old, err := ParseCPUTicks([]byte("cpu  10 0 5 85\n"))
	if err != nil || old != (CPUTicks{Total: 100}) {
		t.Fatalf("a kernel without steal: %+v, %v", old, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4\n", "cpu  1 2\n", "cpu  1 2 x 4\n"} {
		if _, err := ParseCPUTicks([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: err %v, want ErrFormat", bad, err)
		}
	}
	if s := StealShare(CPUTicks{Total: 1000, Steal: 10}, CPUTicks{Total: 1200, Steal: 30}); s != 0.1 {
		t.Errorf("StealShare = %v, want 0.1", s)
	}
	if s := StealShare(CPUTicks{Total: 1000}, CPUTicks{Total: 1000}); s != 0 {
		t.Errorf("no time passed: StealShare = %v", s)
	}
	if _, err := ReadCPUTicks(); err != nil {
		t.Skipf("no /proc/stat here: %v", err)
	}
}

func FuzzParseCPUTicks(f *testing.F) {
	f.Add([]byte(statSample))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseCPUTicks(b) })
}
