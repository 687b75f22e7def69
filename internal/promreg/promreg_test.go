package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterAllOrNone(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "a"})
	b := prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"})
	if err := Register(reg, b); err != nil {
		t.Fatal(err)
	}
	// b is taken: a must not stay registered.
	if err := Register(reg, a, prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"})); err == nil {
		t.Fatal("duplicate registration succeeded")
	}
	if err := reg.Register(a); err != nil {
		t.Fatalf("a was left registered after the failed batch: %v", err)
	}
}
