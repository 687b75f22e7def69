package energy

import "time"

// Profile is a phone the experiment stands in for: this machine's CPU time
// scaled by CPUScale (how much slower the phone's core is; an assumption,
// stated in docs/bench.md) at CPUPowerMW while busy.
type Profile struct {
	Name       string  `json:"name"`
	Phone      string  `json:"phone"`
	CPUScale   float64 `json:"cpu_scale"`
	CPUPowerMW float64 `json:"cpu_power_mw"`
}

// CPUEnergyMJ is the energy of cpu (measured here) on the phone.
func (p Profile) CPUEnergyMJ(cpu time.Duration) float64 {
	return cpu.Seconds() * p.CPUScale * p.CPUPowerMW
}

// Profiles are the C2C paper's phones. CPU power is PowerTutor's (Zhang et
// al., CODES+ISSS 2010) at 100% utilization at the highest modelled
// frequency: its HTC Dream model (the Hero's Qualcomm MSM7200A family at
// 528 MHz) and its Nexus One model (a 1 GHz Scorpion, the nearest modelled
// core to the Galaxy S+'s 1.4 GHz Scorpion). The CPU scale factors are
// assumptions, not measurements (docs/bench.md).
func Profiles() map[string]Profile {
	return map[string]Profile{
		"htc-hero":      {Name: "htc-hero", Phone: "HTC Hero, 528 MHz", CPUScale: 20, CPUPowerMW: 434},
		"galaxy-s-plus": {Name: "galaxy-s-plus", Phone: "Samsung Galaxy S+, 1.4 GHz", CPUScale: 6, CPUPowerMW: 548},
	}
}
