// Package mirrormetrics exports a clone's mirror as Prometheus metrics: it
// is a mirrorservice.Observer, fed on the service's loop.
package mirrormetrics

import (
	"errors"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/mirrorservice"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the mirror's collectors.
type Metrics struct {
	lag         prometheus.Histogram
	batches     prometheus.Counter
	events      prometheus.Counter
	syncBytes   prometheus.Counter
	perEvent    prometheus.Gauge
	divergences *prometheus.CounterVec
	resyncs     prometheus.Counter
	resyncBytes prometheus.Counter
	refused     prometheus.Counter
	mismatches  prometheus.Counter

	totalBytes, totalEvents float64
}

var _ mirrorservice.Observer = (*Metrics)(nil)

// New makes the collectors and registers them with reg (when not nil).
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "c2c_mirror_lag_seconds",
			Help:    "Replay lag of each batch's oldest input: the mirror's time at replay minus the input's device time (bound: t_syn_int + t_max).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 1.1, 2.5, 5, 10, 10.1, 30, 60, 60.1, 120}}),
		batches:   prometheus.NewCounter(prometheus.CounterOpts{Name: "c2c_mirror_batches_total", Help: "Batches replayed."}),
		events:    prometheus.NewCounter(prometheus.CounterOpts{Name: "c2c_mirror_events_total", Help: "Input events replayed (user and network)."}),
		syncBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "c2c_mirror_sync_bytes_total", Help: "Batch frame bytes received from the device."}),
		perEvent: prometheus.NewGauge(prometheus.GaugeOpts{Name: "c2c_mirror_bytes_per_event",
			Help: "Batch frame bytes per replayed event, since start."}),
		divergences: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c2c_mirror_divergences_total",
			Help: "Divergences, by cause (mismatch: state hash; gap: a lost batch)."}, []string{"cause"}),
		resyncs:     prometheus.NewCounter(prometheus.CounterOpts{Name: "c2c_mirror_resyncs_total", Help: "Resyncs finished."}),
		resyncBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "c2c_mirror_resync_bytes_total", Help: "State chunk bytes fetched by resyncs."}),
		refused:     prometheus.NewCounter(prometheus.CounterOpts{Name: "c2c_mirror_refused_total", Help: "Batches, offers and chunks refused."}),
		mismatches:  prometheus.NewCounter(prometheus.CounterOpts{Name: "c2c_mirror_state_mismatches_total", Help: "Replays whose state hash differed from the device's."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.lag, m.batches, m.events, m.syncBytes, m.perEvent, m.divergences,
			m.resyncs, m.resyncBytes, m.refused, m.mismatches} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Replayed implements mirrorservice.Observer.
func (m *Metrics) Replayed(r replication.Replayed, bytes int) {
	m.lag.Observe(r.MaxLag.Seconds())
	m.batches.Inc()
	m.events.Add(float64(r.Events))
	m.syncBytes.Add(float64(bytes))
	m.totalBytes += float64(bytes)
	m.totalEvents += float64(r.Events)
	if m.totalEvents > 0 {
		m.perEvent.Set(m.totalBytes / m.totalEvents)
	}
	if !r.Match {
		m.mismatches.Inc()
	}
}

// Notice implements mirrorservice.Observer.
func (m *Metrics) Notice(n replication.Notice) {
	switch n.Kind {
	case replication.NoticeRefused:
		m.refused.Inc()
	case replication.NoticeDivergence:
		cause := "mismatch"
		if errors.Is(n.Err, replication.ErrBatchGap) {
			cause = "gap"
		}
		m.divergences.WithLabelValues(cause).Inc()
	case replication.NoticeResynced:
		m.resyncs.Inc()
		if n.Resync != nil {
			m.resyncBytes.Add(float64(n.Resync.ChunkBytes))
		}
	}
}

// Outputs implements mirrorservice.Observer.
func (m *Metrics) Outputs([]replication.AppOutput) {}
