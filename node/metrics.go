package node

import (
	"context"
	"errors"
	"fmt"
	"github.com/clone2clone/c2c/internal/promreg"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the node's own Prometheus metrics. Every series carries the
// node's peer ID as a constant label so that several nodes (c2c demo) can
// share one registry.
type metrics struct {
	bootstrapDials     *prometheus.CounterVec
	connectedProviders prometheus.Gauge
	routingTableSize   prometheus.GaugeFunc
	publishes          *prometheus.CounterVec
	idleConnsClosed    prometheus.Counter
	directory          []prometheus.Collector // set by withDirectory
}

// withDirectory exports the directory's own counters, read from its Stats
// at scrape time.
func (m *metrics) withDirectory(peerID string, stats func() dht.Stats) {
	labels := prometheus.Labels{"peer": peerID}
	lookups := func(path string, get func(dht.Stats) uint64) prometheus.Collector {
		l := prometheus.Labels{"peer": peerID, "path": path}
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "c2c", Subsystem: "directory", Name: "lookups_total",
			Help:        "Directory lookups by how they were answered (dht, replica) or failed.",
			ConstLabels: l,
		}, func() float64 { return float64(get(stats())) })
	}
	m.directory = []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "c2c", Subsystem: "directory", Name: "records",
			Help:        "Records held in this node's directory store (the full replica on providers).",
			ConstLabels: labels,
		}, func() float64 { return float64(stats().Records) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "c2c", Subsystem: "directory", Name: "republished_total",
			Help:        "Records this node republished.",
			ConstLabels: labels,
		}, func() float64 { return float64(stats().Republished) }),
		lookups("dht", func(s dht.Stats) uint64 { return s.LookupsDHT }),
		lookups("replica", func(s dht.Stats) uint64 { return s.LookupsReplica }),
		lookups("failed", func(s dht.Stats) uint64 { return s.LookupsFailed }),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return append([]prometheus.Collector{m.bootstrapDials, m.connectedProviders, m.routingTableSize, m.publishes, m.idleConnsClosed}, m.directory...)
}

func newMetrics(peerID string, routingTableSize func() float64) *metrics {
	labels := prometheus.Labels{"peer": peerID}
	return &metrics{
		bootstrapDials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "c2c", Subsystem: "node", Name: "bootstrap_dials_total",
			Help:        "Dials to bootstrap providers, by result (ok, error).",
			ConstLabels: labels,
		}, []string{"result"}),
		connectedProviders: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "c2c", Subsystem: "node", Name: "connected_providers",
			Help:        "Configured bootstrap providers this node is connected to.",
			ConstLabels: labels,
		}),
		routingTableSize: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "c2c", Subsystem: "node", Name: "routing_table_peers",
			Help:        "Peers in the kad-dht routing table.",
			ConstLabels: labels,
		}, routingTableSize),
		publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "c2c", Subsystem: "node", Name: "cert_publishes_total",
			Help:        "Boot-time publications of this clone's owner certificate, by result.",
			ConstLabels: labels,
		}, []string{"result"}),
		idleConnsClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "c2c", Subsystem: "node", Name: "idle_conns_closed_total",
			Help:        "Connections closed because nothing used them (Params.IdleConnTimeout).",
			ConstLabels: labels,
		}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if err := promreg.Register(reg, m.collectors()...); err != nil {
		return fmt.Errorf("node: register metrics: %w", err)
	}
	return nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	promreg.Unregister(reg, m.collectors()...)
}

// ServeMetrics serves gatherer's metrics on http://addr/metrics until ctx is
// done. It returns once the listener is bound (with the bound address, so
// addr may use port 0) and serves in the background.
func ServeMetrics(ctx context.Context, addr string, gatherer prometheus.Gatherer, log *slog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("node: metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	return ln.Addr(), nil
}
