package clonehost

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the hosted clones on the provider's --metrics
// endpoint, read from Info at scrape time: totals always, and with
// perClone one series per clone and metric, labelled by the clone's name
// only (not its peer or user ID: one label, as many values as hosted
// clones, so 2,000 clones make 8,000 series; a provider that would
// rather not pay that exports the totals alone).
func (h *Host) Collector(perClone bool) prometheus.Collector {
	return &collector{h: h, perClone: perClone}
}

type collector struct {
	h        *Host
	perClone bool
}

var (
	descClones = prometheus.NewDesc("c2c_hosted_clones", "Hosted clones by state (running, stopped, asleep).", []string{"state"}, nil)
	descTotal  = map[string]*prometheus.Desc{
		"connections": prometheus.NewDesc("c2c_hosted_connections", "Connections of all running hosted clones' hosts.", nil, nil),
		"documents":   prometheus.NewDesc("c2c_hosted_documents", "Documents open on all running hosted clones.", nil, nil),
		"devices":     prometheus.NewDesc("c2c_hosted_devices_connected", "Devices connected to their hosted clones.", nil, nil),
		"memory":      prometheus.NewDesc("c2c_hosted_memory_estimate_bytes", "Estimated memory of all running hosted clones (clonehost.MemoryModel).", nil, nil),
	}
	descClone = map[string]*prometheus.Desc{
		"connections": prometheus.NewDesc("c2c_hosted_clone_connections", "Connections of one hosted clone's host.", []string{"clone"}, nil),
		"documents":   prometheus.NewDesc("c2c_hosted_clone_documents", "Documents open on one hosted clone.", []string{"clone"}, nil),
		"devices":     prometheus.NewDesc("c2c_hosted_clone_devices_connected", "Devices connected to one hosted clone.", []string{"clone"}, nil),
		"memory":      prometheus.NewDesc("c2c_hosted_clone_memory_estimate_bytes", "Estimated memory of one hosted clone (clonehost.MemoryModel; 0 when stopped).", []string{"clone"}, nil),
	}
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descClones
	for _, d := range descTotal {
		ch <- d
	}
	if c.perClone {
		for _, d := range descClone {
			ch <- d
		}
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	var running, stopped, asleep float64
	total := map[string]float64{}
	for _, in := range c.h.Info() {
		switch in.State {
		case Running:
			running++
		case Asleep:
			asleep++
		default:
			stopped++
		}
		v := map[string]float64{"connections": float64(in.Conns), "documents": float64(in.Docs),
			"devices": float64(in.Devices), "memory": float64(in.MemoryBytes)}
		for k, x := range v {
			total[k] += x
			if c.perClone {
				ch <- prometheus.MustNewConstMetric(descClone[k], prometheus.GaugeValue, x, in.Name)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(descClones, prometheus.GaugeValue, running, string(Running))
	ch <- prometheus.MustNewConstMetric(descClones, prometheus.GaugeValue, stopped, string(Stopped))
	ch <- prometheus.MustNewConstMetric(descClones, prometheus.GaugeValue, asleep, string(Asleep))
	for k, d := range descTotal {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, total[k])
	}
}
