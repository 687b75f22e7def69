package paperbench

import (
	"fmt"
	"slices"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/device/energy"
)

// Raw is every window every device measured.
type Raw struct {
	Config Config
	Runs   []RawRun
}

// RawRun is one mode's run.
type RawRun struct {
	Run    int
	Mode   device.Mode
	Phases modeRun
}

// Entry is one phase in one mode: means per measured device per run,
// except the times, which are means per run.
type Entry struct {
	BytesUp        float64            `json:"bytes_up"`
	BytesDown      float64            `json:"bytes_down"`
	CPUms          float64            `json:"cpu_ms"`
	CryptoOps      float64            `json:"crypto_ops"`
	EnergyMJ       float64            `json:"energy_mj"` // estimate: radio (link) + CPU (profile)
	RadioMJ        float64            `json:"radio_mj"`
	CPUMJ          float64            `json:"cpu_mj"`
	EnergyMinMJ    float64            `json:"energy_min_mj"` // the lowest and highest run
	EnergyMaxMJ    float64            `json:"energy_max_mj"`
	EnergyByLinkMJ map[string]float64 `json:"energy_by_link_mj"`
	Signs          float64            `json:"signs"`
	Verifies       float64            `json:"verifies"`
	AEADSeals      float64            `json:"aead_seals"`
	AEADOpens      float64            `json:"aead_opens"`
	WallMs         float64            `json:"wall_ms"`
	// Figure2Ms: edit: until every device had every edit (the paper's
	// "time to apply all edits"); update: until the returning device was up
	// to date; check: until every member detected the fork; remove: until
	// every remaining member held the new key.
	Figure2Ms float64 `json:"figure2_ms"`
	Devices   int     `json:"devices"` // measured devices per run
	// Detected is phase 3's mean number of members (clones in clone mode,
	// device engines in direct mode) that detected the fork, of Devices.
	Detected float64 `json:"detected,omitempty"`
}

// Ratio is clone mode over direct mode for one phase, beside the paper's.
type Ratio struct {
	Bytes       float64 `json:"bytes"`
	Energy      float64 `json:"energy"`
	CPU         float64 `json:"cpu"`
	PaperBytes  string  `json:"paper_bytes"`
	PaperEnergy string  `json:"paper_energy"`
}

// Goal is one of the targets and whether this run met it.
type Goal struct {
	What     string  `json:"what"`
	Target   string  `json:"target"`
	Measured float64 `json:"measured"`
	Met      bool    `json:"met"`
}

// Result is the experiment's figures.
type Result struct {
	Users    int                         `json:"users"`
	Runs     int                         `json:"runs"`
	Link     string                      `json:"link"`
	Profile  energy.Profile              `json:"profile"`
	Phases   map[string]map[string]Entry `json:"phases"`
	Ratios   map[string]Ratio            `json:"ratios"`
	BytesAll Ratio                       `json:"bytes_all_phases"` // device bytes over all four phases
	Latency  map[string]Percentiles      `json:"edit_latency_ms"`  // phase 1, author's keystroke to another device's text
	Goals    []Goal                      `json:"goals"`
	Notes    []string                    `json:"notes"`
	// latency samples (ms) by mode, for the CDF chart.
	samples map[string][]float64
}

// Percentiles of a latency distribution, in ms.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// paper's ratios (clone / SPORC): Figure 3 (traffic 3x lower) and Table 3's
// energy savings, as the issue quotes them.
var paperEnergy = map[string]string{"edit": "~0.7 (~30% saved)", "update": "<0.2 (>80% saved)",
	"check": "<0.01 (>99% saved)", "remove": "<0.2 (>80% saved)"}

const paperBytes = "~1/3 (Fig. 3)"

// Summarize turns raw windows into the figures for radio link and phone
// profile.
func Summarize(raw *Raw, link string, prof energy.Profile) (*Result, error) {
	radios := energy.Radios()
	radio, ok := radios[link]
	if !ok {
		return nil, fmt.Errorf("paperbench: unknown link %q (lte, 3g, wifi)", link)
	}
	res := &Result{Users: raw.Config.Users, Runs: raw.Config.Runs, Link: link, Profile: prof,
		Phases: map[string]map[string]Entry{}, Ratios: map[string]Ratio{}, Latency: map[string]Percentiles{},
		samples: map[string][]float64{}}
	for _, ph := range Phases {
		res.Phases[ph] = map[string]Entry{}
		for _, mode := range Modes {
			res.Phases[ph][string(mode)] = summarize(raw, ph, mode, radio, radios, prof)
		}
	}
	var allC, allD float64
	for _, ph := range Phases {
		c, d := res.Phases[ph]["clone"], res.Phases[ph]["direct"]
		res.Ratios[ph] = Ratio{Bytes: div(c.BytesUp+c.BytesDown, d.BytesUp+d.BytesDown), Energy: div(c.EnergyMJ, d.EnergyMJ),
			CPU: div(c.CPUms, d.CPUms), PaperBytes: paperBytes, PaperEnergy: paperEnergy[ph]}
		allC += (c.BytesUp + c.BytesDown) * float64(c.Devices)
		allD += (d.BytesUp + d.BytesDown) * float64(d.Devices)
	}
	res.BytesAll = Ratio{Bytes: div(allC, allD), PaperBytes: paperBytes}
	for _, mode := range Modes {
		s := editLatencies(raw, mode)
		res.samples[string(mode)] = s
		res.Latency[string(mode)] = percentiles(s)
	}
	check := res.Phases["check"]["clone"]
	res.Goals = []Goal{
		{"device bytes, all phases, clone / direct", "<= 0.1 (paper 1/3)", res.BytesAll.Bytes, res.BytesAll.Bytes <= 0.1},
		{"phase 1 energy, clone / direct", "<= 0.5", res.Ratios["edit"].Energy, res.Ratios["edit"].Energy <= 0.5},
		{"phase 2 energy, clone / direct", "<= 0.1", res.Ratios["update"].Energy, res.Ratios["update"].Energy <= 0.1},
		{"phase 3 device crypto operations, clone mode", "0", check.CryptoOps, check.CryptoOps == 0},
		{"phase 4 energy, clone / direct", "<= 0.1", res.Ratios["remove"].Energy, res.Ratios["remove"].Energy <= 0.1},
	}
	res.Notes = []string{
		"energy is an estimate: radio model " + radio.Name() + " on each device's own timeline of stream bytes (1 ms bins), plus CPU time x " +
			fmt.Sprintf("%.0f x %.0f mW (%s); docs/bench.md gives the sources and limits", prof.CPUScale, prof.CPUPowerMW, prof.Phone),
		"bytes are libp2p stream bytes on the device host (QUIC and TLS framing not counted)",
		"clone-mode crypto counts are zero by construction: the device client has no signature or AEAD code; direct mode derives them from its engine's counters",
		"phase 2 measures the returning device only; phase 4 the devices that stay",
	}
	return res, nil
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func summarize(raw *Raw, phase string, mode device.Mode, radio energy.Radio, radios map[string]energy.Radio, prof energy.Profile) Entry {
	e := Entry{EnergyByLinkMJ: map[string]float64{}}
	var n, runs float64
	var perRun []float64
	for _, rr := range raw.Runs {
		pr := rr.Phases[phase]
		if rr.Mode != mode || pr == nil {
			continue
		}
		runs++
		e.WallMs += ms(pr.Wall)
		e.Figure2Ms += ms(pr.Figure2)
		e.Detected += float64(pr.Detected)
		e.Devices = len(pr.Windows)
		var runEnergy float64
		for _, w := range pr.Windows {
			n++
			e.BytesUp += float64(w.BytesUp)
			e.BytesDown += float64(w.BytesDown)
			e.CPUms += ms(w.CPU)
			e.Signs += float64(w.Crypto.Signs)
			e.Verifies += float64(w.Crypto.Verifies)
			e.AEADSeals += float64(w.Crypto.AEADSeals)
			e.AEADOpens += float64(w.Crypto.AEADOpens)
			cpu := prof.CPUEnergyMJ(w.CPU)
			r := radio.Energy(w.Timeline).TotalMJ
			e.RadioMJ += r
			e.CPUMJ += cpu
			runEnergy += r + cpu
			for name, m := range radios {
				e.EnergyByLinkMJ[name] += m.Energy(w.Timeline).TotalMJ + cpu
			}
		}
		if len(pr.Windows) > 0 {
			perRun = append(perRun, runEnergy/float64(len(pr.Windows)))
		}
	}
	if n == 0 {
		return e
	}
	for _, p := range []*float64{&e.BytesUp, &e.BytesDown, &e.CPUms, &e.Signs, &e.Verifies, &e.AEADSeals, &e.AEADOpens, &e.RadioMJ, &e.CPUMJ} {
		*p /= n
	}
	for k := range e.EnergyByLinkMJ {
		e.EnergyByLinkMJ[k] /= n
	}
	e.CryptoOps = e.Signs + e.Verifies + e.AEADSeals + e.AEADOpens
	e.EnergyMJ = e.RadioMJ + e.CPUMJ
	e.EnergyMinMJ, e.EnergyMaxMJ = slices.Min(perRun), slices.Max(perRun)
	e.WallMs /= runs
	e.Figure2Ms /= runs
	e.Detected /= runs
	return e
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// editLatencies are phase 1's delivery times: from a token's keystroke at
// its author to its arrival in another device's text.
func editLatencies(raw *Raw, mode device.Mode) []float64 {
	var out []float64
	for _, rr := range raw.Runs {
		pr := rr.Phases["edit"]
		if rr.Mode != mode || pr == nil {
			continue
		}
		sent := map[rune]int64{}
		for _, w := range pr.Windows {
			for _, t := range w.Sent {
				sent[t.Token] = t.At
			}
		}
		for _, w := range pr.Windows {
			for _, t := range w.Seen {
				if at, ok := sent[t.Token]; ok {
					out = append(out, float64(t.At-at)/1e6)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func percentiles(s []float64) Percentiles {
	if len(s) == 0 {
		return Percentiles{}
	}
	at := func(q float64) float64 { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Percentiles{N: len(s), P50: at(0.5), P90: at(0.9), P99: at(0.99), Max: s[len(s)-1]}
}
