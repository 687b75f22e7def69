package paperbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device/energy"
)

const childEnv = "C2C_PAPERBENCH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := ChildMain(); err != nil {
			fmt.Fprintln(os.Stderr, "device process:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole experiment small: 3 users, one run, a few edits
// a phase, both modes, real device processes.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts device processes")
	}
	cfg := DefaultConfig()
	cfg.Users, cfg.Runs, cfg.EditsEach, cfg.UpdateEdits, cfg.CheckEdits = 3, 1, 5, 5, 5
	cfg.Dir = t.TempDir()
	cfg.Limit = time.Minute
	cfg.Device = func() *exec.Cmd {
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), childEnv+"=1")
		c.Stderr = os.Stderr
		return c
	}
	raw, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Summarize(raw, "lte", energy.Profiles()["galaxy-s-plus"])
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range Phases {
		c, d := res.Phases[ph]["clone"], res.Phases[ph]["direct"]
		t.Logf("%-7s clone %6.0f B up %6.0f B down %6.1f ms cpu %4.0f ops %8.1f mJ | direct %6.0f B up %6.0f B down %6.1f ms cpu %4.0f ops %8.1f mJ",
			ph, c.BytesUp, c.BytesDown, c.CPUms, c.CryptoOps, c.EnergyMJ, d.BytesUp, d.BytesDown, d.CPUms, d.CryptoOps, d.EnergyMJ)
		if c.CryptoOps != 0 {
			t.Errorf("%s: clone-mode device did %v crypto operations", ph, c.CryptoOps)
		}
		if d.BytesUp+d.BytesDown == 0 || d.EnergyMJ <= 0 {
			t.Errorf("%s: direct mode measured nothing: %+v", ph, d)
		}
	}
	t.Logf("phase 3: fork detected by %v clones, %v device engines, of %d", res.Phases["check"]["clone"].Detected,
		res.Phases["check"]["direct"].Detected, res.Phases["check"]["clone"].Devices)
	if c := res.Phases["check"]["clone"]; c.Detected != float64(c.Devices) {
		t.Errorf("phase 3: %v of %d clones detected the fork", c.Detected, c.Devices)
	}
	if d := res.Phases["check"]["direct"]; d.Detected != float64(d.Devices) {
		t.Errorf("phase 3: %v of %d direct-mode engines detected the fork", d.Detected, d.Devices)
	}
	if res.Phases["edit"]["direct"].Verifies == 0 {
		t.Error("direct-mode devices verified no entry in phase 1")
	}
	paths, err := WriteCharts(res, t.TempDir())
	if err != nil || len(paths) != 3 {
		t.Fatalf("charts %v: %v", paths, err)
	}
	for _, p := range paths {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("chart %s: %v", p, err)
		}
	}
	if res.Latency["clone"].N == 0 || res.Latency["direct"].N == 0 {
		t.Errorf("no edit latencies: %+v", res.Latency)
	}
}
