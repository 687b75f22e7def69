package seqservice

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats counts what the service did since New.
type Stats struct {
	Docs       uint64 // documents registered (including restored ones)
	Ordered    uint64 // entries ordered and persisted
	Batches    uint64 // durable writes (one sync each)
	Refused    uint64 // envelopes the reference sequencer refused (replays, stale parents, ...)
	Invalid    uint64 // messages rejected by a topic validator
	BadStreams uint64 // stream requests that failed to decode or were refused
	Served     uint64 // entries served on history streams
	Feeds      int64  // members' feeds open now (netproto.FeedProtocol)
	Fed        uint64 // entries handed to members' feeds
	Gossiped   uint64 // entries published on an entries topic (many peers on it had no feed)
	Pushed     uint64 // entries pushed to a member on the topic without a feed (a few had none), one per member
	QueueFull  uint64 // admitted topic envelopes dropped: QueueSize were waiting for the loop
}

type counters struct {
	docs, ordered, batches, refused, invalid, badStreams, served, fed, gossiped, pushed, queueFull atomic.Uint64
	feeds                                                                                          atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{Docs: c.docs.Load(), Ordered: c.ordered.Load(), Batches: c.batches.Load(),
		Refused: c.refused.Load(), Invalid: c.invalid.Load(), BadStreams: c.badStreams.Load(),
		Served: c.served.Load(), Feeds: c.feeds.Load(), Fed: c.fed.Load(), Gossiped: c.gossiped.Load(), Pushed: c.pushed.Load(), QueueFull: c.queueFull.Load()}
}

// collectors exposes the counters to Prometheus.
func (c *counters) collectors() []prometheus.Collector {
	f := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "c2c", Subsystem: "sequencer",
			Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	return []prometheus.Collector{
		f("docs_total", "Documents registered.", &c.docs),
		f("ordered_total", "Entries ordered and persisted.", &c.ordered),
		f("batches_total", "Durable batch writes.", &c.batches),
		f("refused_total", "Envelopes refused by the reference sequencer.", &c.refused),
		f("invalid_messages_total", "Topic messages rejected by validators.", &c.invalid),
		f("bad_streams_total", "Stream requests that failed.", &c.badStreams),
		f("served_entries_total", "Entries served on history streams.", &c.served),
		f("fed_entries_total", "Entries handed to members' feeds.", &c.fed),
		f("gossiped_entries_total", "Entries published on an entries topic for peers without a feed.", &c.gossiped),
		f("pushed_entries_total", "Entries pushed on a stream to a member without a feed, one per member.", &c.pushed),
		f("queue_full_total", "Admitted topic envelopes dropped because the loop's queue was full.", &c.queueFull),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "c2c", Subsystem: "sequencer",
			Name: "feeds", Help: "Members' feeds open."}, func() float64 { return float64(c.feeds.Load()) }),
	}
}
