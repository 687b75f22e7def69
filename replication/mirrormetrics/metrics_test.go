package mirrormetrics

import (
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Replayed(replication.Replayed{Number: 1, Events: 10, Match: true, MaxLag: 1100 * time.Millisecond}, 300)
	m.Replayed(replication.Replayed{Number: 2, Events: 30, Match: false, MaxLag: 900 * time.Millisecond}, 100)
	m.Notice(replication.Notice{Kind: replication.NoticeDivergence, Err: replication.ErrBatchGap})
	m.Notice(replication.Notice{Kind: replication.NoticeResynced, Resync: &replication.ResyncReport{ChunkBytes: 4096}})
	for _, c := range []struct {
		c    prometheus.Metric
		want float64
	}{
		{m.batches, 2}, {m.events, 40}, {m.syncBytes, 400}, {m.perEvent, 10}, {m.mismatches, 1},
		{m.divergences.WithLabelValues("gap"), 1}, {m.resyncs, 1}, {m.resyncBytes, 4096},
	} {
		if got := value(t, c.c); got != c.want {
			t.Errorf("%v: %v, want %v", c.c, got, c.want)
		}
	}
	var h dto.Metric
	if err := m.lag.Write(&h); err != nil || h.GetHistogram().GetSampleCount() != 2 {
		t.Fatalf("lag histogram: %v, err %v", h.GetHistogram(), err)
	}
}

func value(t *testing.T, c prometheus.Metric) float64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.GetCounter().GetValue()
	}
	return d.GetGauge().GetValue()
}
