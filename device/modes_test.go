package device_test

import (
	"testing"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/direct"
	"github.com/prometheus/client_golang/prometheus"
)

// Both modes are the same device.Doc.
var (
	_ device.Doc = (*client.Doc)(nil)
	_ device.Doc = (*direct.Doc)(nil)
)

func TestMeterCPUTime(t *testing.T) {
	u0, _ := device.CPUTime()
	x := 0
	for i := range 50_000_000 {
		x += i
	}
	u1, _ := device.CPUTime()
	if u1 <= u0 || x == 0 {
		t.Fatalf("user CPU time did not advance: %v -> %v", u0, u1)
	}
	m := device.NewMeter(device.ModeClone)
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) == 0 {
		t.Fatalf("gather: %v, %d families", err, len(mfs))
	}
}
