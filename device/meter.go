package device

import (
	"sort"
	"syscall"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Traffic is bytes one way and the other on one protocol.
type Traffic struct {
	Protocol string `json:"protocol"`
	In       int64  `json:"in"`
	Out      int64  `json:"out"`
}

// Crypto counts signature and AEAD operations done on the device.
type Crypto struct {
	Signs     uint64 `json:"signs"`
	Verifies  uint64 `json:"verifies"`
	AEADSeals uint64 `json:"aead_seals"`
	AEADOpens uint64 `json:"aead_opens"`
}

// Snapshot is the device's accounting at one moment.
type Snapshot struct {
	Mode       Mode          `json:"mode"`
	Protocols  []Traffic     `json:"protocols"`
	TotalIn    int64         `json:"total_in"`
	TotalOut   int64         `json:"total_out"`
	CPUUser    time.Duration `json:"cpu_user_ns"`
	CPUSystem  time.Duration `json:"cpu_system_ns"`
	Crypto     Crypto        `json:"crypto"`
	CryptoNote string        `json:"crypto_note"`
}

// Meter counts a device host's stream traffic per protocol (an exact
// ByteCounter the host reports to) and reads the process's CPU time.
type Meter struct {
	mode Mode
	bw   *ByteCounter
	eng  func() cloneservice.Stats // direct mode: the engine's counters
}

// NewMeter returns a meter for a device in mode; pass Option() to the
// device host's constructor.
func NewMeter(mode Mode) *Meter {
	return &Meter{mode: mode, bw: NewByteCounter()}
}

// Option makes a libp2p host report its stream traffic to m.
func (m *Meter) Option() libp2p.Option { return libp2p.BandwidthReporter(m.bw) }

// Reporter is the counter Option installs, for a caller that reports to
// more than one place (a timeline beside the totals).
func (m *Meter) Reporter() metrics.Reporter { return m.bw }

// CountEngine makes a direct-mode meter derive crypto counts from the
// engine's counters.
func (m *Meter) CountEngine(stats func() cloneservice.Stats) { m.eng = stats }

// CPUTime returns the user and system CPU time of this process.
func CPUTime() (user, system time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// Snapshot reads the counters now.
func (m *Meter) Snapshot() Snapshot {
	s := Snapshot{Mode: m.mode}
	for p, st := range m.bw.GetBandwidthByProtocol() {
		s.Protocols = append(s.Protocols, Traffic{Protocol: string(p), In: st.TotalIn, Out: st.TotalOut})
	}
	sort.Slice(s.Protocols, func(i, j int) bool { return s.Protocols[i].Protocol < s.Protocols[j].Protocol })
	tot := m.bw.GetBandwidthTotals()
	s.TotalIn, s.TotalOut = tot.TotalIn, tot.TotalOut
	s.CPUUser, s.CPUSystem = CPUTime()
	s.Crypto, s.CryptoNote = m.crypto()
	return s
}

// crypto counts the application's signature and AEAD operations. In clone
// mode the device does none (the clone signs, seals, verifies and opens);
// the transport's own handshake signature and packet AEAD are not counted
// in either mode. In direct mode the engine does not count its operations,
// so they are derived from its counters: each committed entry costs two
// signature verifications (sequencer, author) and one AEAD open; each
// envelope sent costs one signature and one AEAD seal (Submitted includes
// resends, so this is an upper bound).
func (m *Meter) crypto() (Crypto, string) {
	if m.mode == ModeClone || m.eng == nil {
		return Crypto{}, "clone mode: no application signature or AEAD on the device (transport crypto not counted)"
	}
	st := m.eng()
	return Crypto{Signs: st.Submitted, AEADSeals: st.Submitted, Verifies: 2 * st.Committed, AEADOpens: st.Committed},
		"direct mode: derived from engine counters: verifies = 2 x committed entries, opens = committed, signs = seals = envelopes submitted (incl. resends)"
}

// Register exposes the meter as Prometheus metrics.
func (m *Meter) Register(reg prometheus.Registerer) error {
	c := &meterCollector{m: m,
		bytes: prometheus.NewDesc("c2c_device_bytes_total", "Bytes on the device host's streams, by protocol and direction.", []string{"protocol", "direction"}, nil),
		cpu:   prometheus.NewDesc("c2c_device_cpu_seconds_total", "CPU time of the device process.", []string{"mode"}, nil),
		ops:   prometheus.NewDesc("c2c_device_crypto_ops_total", "Signature and AEAD operations done by the device.", []string{"op"}, nil),
	}
	return reg.Register(c)
}

type meterCollector struct {
	m               *Meter
	bytes, cpu, ops *prometheus.Desc
}

func (c *meterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.cpu
	ch <- c.ops
}

func (c *meterCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.Snapshot()
	for _, t := range s.Protocols {
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(t.In), t.Protocol, "in")
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(t.Out), t.Protocol, "out")
	}
	ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, s.CPUUser.Seconds(), "user")
	ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, s.CPUSystem.Seconds(), "system")
	for op, v := range map[string]uint64{"sign": s.Crypto.Signs, "verify": s.Crypto.Verifies,
		"aead_seal": s.Crypto.AEADSeals, "aead_open": s.Crypto.AEADOpens} {
		ch <- prometheus.MustNewConstMetric(c.ops, prometheus.CounterValue, float64(v), op)
	}
}
