package node

import "github.com/prometheus/client_golang/prometheus"

// Registerer returns the metrics registry given with WithMetrics (nil
// without it), so services started on top of the node register beside it.
func (n *Node) Registerer() prometheus.Registerer { return n.opts.registerer }
