package paperbench

import (
	"math"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/device/energy"
)

// TestSummarize checks the means, ratios and goals on hand-made windows.
func TestSummarize(t *testing.T) {
	prof := energy.Profile{CPUScale: 2, CPUPowerMW: 500} // 1 ms here = 1 mJ
	win := func(up, down int64, cpu time.Duration, cr device.Crypto, pkts ...energy.Packet) window {
		return window{BytesUp: up, BytesDown: down, CPU: cpu, Crypto: cr, Timeline: pkts}
	}
	one := energy.Packet{At: 0, Up: 1}
	phases := func(w ...window) modeRun {
		m := modeRun{}
		for _, ph := range Phases {
			m[ph] = &phaseRun{Windows: w, Wall: time.Second, Figure2: 500 * time.Millisecond}
		}
		return m
	}
	raw := &Raw{Config: Config{Users: 2, Runs: 1}, Runs: []RawRun{
		{Mode: device.ModeClone, Phases: phases(win(10, 30, 2*time.Millisecond, device.Crypto{}), win(30, 50, 4*time.Millisecond, device.Crypto{}))},
		{Mode: device.ModeDirect, Phases: phases(
			win(400, 400, 20*time.Millisecond, device.Crypto{Signs: 1, Verifies: 4, AEADSeals: 1, AEADOpens: 2}, one),
			win(400, 400, 40*time.Millisecond, device.Crypto{Signs: 1, Verifies: 4, AEADSeals: 1, AEADOpens: 2}, one))},
	}}
	res, err := Summarize(raw, "wifi", prof)
	if err != nil {
		t.Fatal(err)
	}
	c, d := res.Phases["edit"]["clone"], res.Phases["edit"]["direct"]
	if c.BytesUp != 20 || c.BytesDown != 40 || c.CPUms != 3 || c.CryptoOps != 0 || c.Devices != 2 {
		t.Errorf("clone entry %+v", c)
	}
	if d.CryptoOps != 8 || d.Verifies != 4 || d.CPUms != 30 {
		t.Errorf("direct entry %+v", d)
	}
	wifiOne := 403 * 0.25 // one packet on Wi-Fi: 100.75 mJ
	if math.Abs(d.EnergyMJ-(wifiOne+30)) > 1e-9 || c.EnergyMJ != 3 || c.RadioMJ != 0 {
		t.Errorf("energy: clone %v, direct %v (radio %v, cpu %v)", c.EnergyMJ, d.EnergyMJ, d.RadioMJ, d.CPUMJ)
	}
	if r := res.Ratios["edit"]; math.Abs(r.Bytes-60.0/800) > 1e-12 || math.Abs(r.Energy-3/(wifiOne+30)) > 1e-12 {
		t.Errorf("ratios %+v", r)
	}
	if d.WallMs != 1000 || d.Figure2Ms != 500 {
		t.Errorf("times %v %v", d.WallMs, d.Figure2Ms)
	}
	met := map[string]bool{}
	for _, g := range res.Goals {
		met[g.What] = g.Met
	}
	if !met["device bytes, all phases, clone / direct"] || !met["phase 1 energy, clone / direct"] ||
		!met["phase 3 device crypto operations, clone mode"] {
		t.Errorf("goals %+v", res.Goals)
	}
	if _, err := Summarize(raw, "5g", prof); err == nil {
		t.Error("an unknown link was accepted")
	}
}
