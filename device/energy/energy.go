// Package energy estimates what a phone's radio and CPU spend on a packet
// timeline: a pure function from the device's own send and receive
// timestamps (and its CPU time) to millijoules, for three link types, LTE,
// 3G and Wi-Fi, with power values from AT&T's ARO (Application Resource
// Optimizer) and the LTE model of Huang et al. (MobiSys 2012). It is an
// estimate: docs/bench.md gives each number's source and the model's limits.
//
// Every radio model follows the same shape. A packet that finds the radio
// idle pays a promotion; after each packet the radio stays up for a tail,
// restarted by the next packet; what a packet itself costs depends on the
// link. Energy above the idle baseline is counted (the idle power is spent
// whether or not the device talks).
package energy

import (
	"slices"
	"time"
)

// Packet is what the device sent and received at one instant (Up, Down in
// bytes; At from the start of the timeline).
type Packet struct {
	At       time.Duration
	Up, Down int64
}

// Breakdown is a radio's energy on a timeline, in mJ.
type Breakdown struct {
	PromotionMJ float64 `json:"promotion_mj"`
	DataMJ      float64 `json:"data_mj"` // throughput-dependent part (LTE's alpha terms)
	TailMJ      float64 `json:"tail_mj"` // radio up between and after packets
	TotalMJ     float64 `json:"total_mj"`
	Promotions  int     `json:"promotions"`
}

// Radio is one link type's power model.
type Radio interface {
	Name() string
	Energy(timeline []Packet) Breakdown
}

// sorted returns the packets in time order, packets at the same instant
// merged (the models treat them as one transfer).
func sorted(in []Packet) []Packet {
	p := slices.Clone(in)
	slices.SortStableFunc(p, func(a, b Packet) int { return int(a.At - b.At) })
	out := p[:0]
	for _, x := range p {
		if n := len(out); n > 0 && out[n-1].At == x.At {
			out[n-1].Up += x.Up
			out[n-1].Down += x.Down
			continue
		}
		out = append(out, x)
	}
	return out
}

// gaps calls f with each packet and the time until the next one (the last
// packet's gap is unbounded: its whole tail runs).
func gaps(p []Packet, f func(i int, gap time.Duration)) {
	for i := range p {
		gap := time.Duration(1<<63 - 1)
		if i+1 < len(p) {
			gap = p[i+1].At - p[i].At
		}
		f(i, gap)
	}
}

// mWs is power (mW) for d, in mJ.
func mWs(mw float64, d time.Duration) float64 { return mw * d.Seconds() }

func clamp(d, lo, hi time.Duration) time.Duration { return max(lo, min(d, hi)) }

// LTE is the LTE model of Huang et al., "A Close Examination of Performance
// and Power Characteristics of 4G LTE Networks" (MobiSys 2012), the model
// behind ARO's lte.conf: a promotion from RRC_IDLE, throughput terms while
// data flows (alpha, mW per Mbps), continuous reception at Beta for the
// inactivity timer after a packet, then the DRX tail until Tail after the
// last packet.
type LTE struct {
	PromotionMW float64
	Promotion   time.Duration
	AlphaUpMW   float64 // per Mbps uplink
	AlphaDownMW float64 // per Mbps downlink
	BetaMW      float64 // continuous reception
	Inactivity  time.Duration
	TailMW      float64
	Tail        time.Duration // from the last packet to RRC_IDLE
}

// DefaultLTE returns the values docs/bench.md cites (Huang et al. 2012, and
// ARO lte.conf's INACTIVITY_TIMER).
func DefaultLTE() LTE {
	return LTE{PromotionMW: 1210, Promotion: 260 * time.Millisecond, AlphaUpMW: 438.39, AlphaDownMW: 51.97,
		BetaMW: 1288, Inactivity: 100 * time.Millisecond, TailMW: 1060, Tail: 11576 * time.Millisecond}
}

// Name implements Radio.
func (LTE) Name() string { return "lte" }

// Energy implements Radio. The alpha terms integrate throughput over time,
// so they come to alpha times the megabits moved whatever the window.
func (m LTE) Energy(timeline []Packet) Breakdown {
	var b Breakdown
	p := sorted(timeline)
	for i, x := range p {
		if i == 0 || x.At-p[i-1].At >= m.Tail {
			b.Promotions++
			b.PromotionMJ += mWs(m.PromotionMW, m.Promotion)
		}
		b.DataMJ += m.AlphaUpMW*mbit(x.Up) + m.AlphaDownMW*mbit(x.Down)
	}
	gaps(p, func(_ int, gap time.Duration) {
		b.TailMJ += mWs(m.BetaMW, clamp(gap, 0, m.Inactivity)) + mWs(m.TailMW, clamp(gap-m.Inactivity, 0, m.Tail-m.Inactivity))
	})
	b.TotalMJ = b.PromotionMJ + b.DataMJ + b.TailMJ
	return b
}

func mbit(bytes int64) float64 { return float64(bytes) * 8 / 1e6 }

// ThreeG is ARO's 3G (UMTS) RRC model with the values of its i997.conf
// profile: IDLE -> DCH promotion, DCH for DCHTail after a packet, then
// FACH for FACHTail, then IDLE; a packet during FACH pays the FACH -> DCH
// promotion. Power depends on the state only.
type ThreeG struct {
	IdleDCHMW, FACHDCHMW float64
	IdleDCH, FACHDCH     time.Duration
	DCHMW, FACHMW        float64
	DCHTail, FACHTail    time.Duration
}

// DefaultThreeG returns ARO i997.conf's values.
func DefaultThreeG() ThreeG {
	return ThreeG{IdleDCHMW: 650, IdleDCH: 2 * time.Second, FACHDCHMW: 800, FACHDCH: 1500 * time.Millisecond,
		DCHMW: 1300, DCHTail: 4 * time.Second, FACHMW: 300, FACHTail: 10 * time.Second}
}

// Name implements Radio.
func (ThreeG) Name() string { return "3g" }

// Energy implements Radio.
func (m ThreeG) Energy(timeline []Packet) Breakdown {
	var b Breakdown
	p := sorted(timeline)
	for i, x := range p {
		switch gap := x.At - p[max(i-1, 0)].At; {
		case i == 0 || gap >= m.DCHTail+m.FACHTail:
			b.Promotions++
			b.PromotionMJ += mWs(m.IdleDCHMW, m.IdleDCH)
		case gap >= m.DCHTail:
			b.Promotions++
			b.PromotionMJ += mWs(m.FACHDCHMW, m.FACHDCH)
		}
	}
	gaps(p, func(_ int, gap time.Duration) {
		b.TailMJ += mWs(m.DCHMW, clamp(gap, 0, m.DCHTail)) + mWs(m.FACHMW, clamp(gap-m.DCHTail, 0, m.FACHTail))
	})
	b.TotalMJ = b.PromotionMJ + b.TailMJ
	return b
}

// WiFi is ARO's Wi-Fi model (WiFi.conf): active power while packets flow
// and for Tail after each one; no promotion.
type WiFi struct {
	ActiveMW float64
	Tail     time.Duration
}

// DefaultWiFi returns ARO WiFi.conf's values.
func DefaultWiFi() WiFi { return WiFi{ActiveMW: 403, Tail: 250 * time.Millisecond} }

// Name implements Radio.
func (WiFi) Name() string { return "wifi" }

// Energy implements Radio.
func (m WiFi) Energy(timeline []Packet) Breakdown {
	var b Breakdown
	gaps(sorted(timeline), func(_ int, gap time.Duration) {
		b.TailMJ += mWs(m.ActiveMW, clamp(gap, 0, m.Tail))
	})
	b.TotalMJ = b.TailMJ
	return b
}

// Radios returns the three default models, keyed by Name.
func Radios() map[string]Radio {
	return map[string]Radio{"lte": DefaultLTE(), "3g": DefaultThreeG(), "wifi": DefaultWiFi()}
}
