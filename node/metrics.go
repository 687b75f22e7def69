package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

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
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.bootstrapDials, m.connectedProviders, m.routingTableSize, m.publishes} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("node: register metrics: %w", err)
		}
	}
	return nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range []prometheus.Collector{m.bootstrapDials, m.connectedProviders, m.routingTableSize, m.publishes} {
		reg.Unregister(c)
	}
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
