package energy

import (
	"math"
	"testing"
	"time"
)

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
		t.Errorf("%s = %.6f mJ, want %.6f", what, got, want)
	}
}

const ms = time.Millisecond

// Hand-computed: the LTE values are 1210 mW x 0.26 s promotion, alpha up
// 438.39 and down 51.97 mW/Mbps, beta 1288 mW for 0.1 s, tail 1060 mW up to
// 11.576 s after the last packet.
func TestLTE(t *testing.T) {
	m := DefaultLTE()
	fullTail := 1288*0.1 + 1060*(11.576-0.1) // 128.8 + 12164.56
	promo := 1210 * 0.26                     // 314.6
	cases := []struct {
		name      string
		timeline  []Packet
		promos    int
		data, all float64
	}{
		{"empty", nil, 0, 0, 0},
		{"one packet", []Packet{{At: 0, Up: 125000}}, 1, 438.39, promo + 438.39 + fullTail}, // 125 kB = 1 Mbit
		// 50 ms apart: the first tail is 50 ms of continuous reception.
		{"two close", []Packet{{At: 0, Down: 125000}, {At: 50 * ms, Up: 0, Down: 0}}, 1, 51.97, promo + 51.97 + 1288*0.05 + fullTail},
		// 1 s apart: 0.1 s at beta, 0.9 s at tail power, one promotion.
		{"one second", []Packet{{At: 0}, {At: time.Second}}, 1, 0, promo + 1288*0.1 + 1060*0.9 + fullTail},
		// 20 s apart: the radio went idle; two promotions, two full tails.
		{"idle between", []Packet{{At: 20 * time.Second}, {At: 0}}, 2, 0, 2*promo + 2*fullTail},
		// Same instant: merged.
		{"same instant", []Packet{{At: 0, Up: 62500}, {At: 0, Up: 62500}}, 1, 438.39, promo + 438.39 + fullTail},
	}
	for _, c := range cases {
		b := m.Energy(c.timeline)
		if b.Promotions != c.promos {
			t.Errorf("%s: %d promotions, want %d", c.name, b.Promotions, c.promos)
		}
		near(t, c.name+" data", b.DataMJ, c.data)
		near(t, c.name+" total", b.TotalMJ, c.all)
		near(t, c.name+" sum", b.PromotionMJ+b.DataMJ+b.TailMJ, b.TotalMJ)
	}
}

func TestThreeG(t *testing.T) {
	m := DefaultThreeG()
	idlePromo, fachPromo := 650*2.0, 800*1.5
	full := 1300*4.0 + 300*10.0
	cases := []struct {
		name     string
		timeline []Packet
		promos   int
		all      float64
	}{
		{"one packet", []Packet{{At: 0, Up: 10}}, 1, idlePromo + full},
		{"in DCH", []Packet{{At: 0}, {At: time.Second}}, 1, idlePromo + 1300*1.0 + full},
		{"in FACH", []Packet{{At: 0}, {At: 6 * time.Second}}, 2, idlePromo + 1300*4 + 300*2 + fachPromo + full},
		{"idle again", []Packet{{At: 0}, {At: 30 * time.Second}}, 2, 2*idlePromo + 2*full},
	}
	for _, c := range cases {
		b := m.Energy(c.timeline)
		if b.Promotions != c.promos {
			t.Errorf("%s: %d promotions, want %d", c.name, b.Promotions, c.promos)
		}
		near(t, c.name, b.TotalMJ, c.all)
	}
}

func TestWiFi(t *testing.T) {
	m := DefaultWiFi()
	near(t, "one", m.Energy([]Packet{{At: 0, Up: 1}}).TotalMJ, 403*0.25)
	near(t, "100 ms apart", m.Energy([]Packet{{At: 0}, {At: 100 * ms}}).TotalMJ, 403*0.1+403*0.25)
	near(t, "1 s apart", m.Energy([]Packet{{At: 0}, {At: time.Second}}).TotalMJ, 2*403*0.25)
}

func TestCPUEnergy(t *testing.T) {
	p := Profile{CPUScale: 20, CPUPowerMW: 434}
	near(t, "100 ms here", p.CPUEnergyMJ(100*ms), 0.1*20*434) // 868 mJ
}
