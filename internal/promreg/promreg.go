// Package promreg registers a service's Prometheus collectors as a unit.
package promreg

import "github.com/prometheus/client_golang/prometheus"

// Register registers every collector with reg, or none: on the first error
// it unregisters those it already registered (so a service whose
// construction fails leaves nothing behind in a shared registry) and
// returns the error.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return err
		}
	}
	return nil
}

// Unregister removes the collectors from reg; a nil reg is a no-op, so a
// service's Close and its failure paths can call it unconditionally.
func Unregister(reg prometheus.Registerer, cs ...prometheus.Collector) {
	if reg == nil {
		return
	}
	for _, c := range cs {
		reg.Unregister(c)
	}
}
