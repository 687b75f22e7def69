package mirrormetrics

import (
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
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
		c    prometheus.Collector
		want float64
	}{
		{m.batches, 2}, {m.events, 40}, {m.syncBytes, 400}, {m.perEvent, 10}, {m.mismatches, 1},
		{m.divergences.WithLabelValues("gap"), 1}, {m.resyncs, 1}, {m.resyncBytes, 4096},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%v: %v, want %v", c.c, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.lag); n != 1 {
		t.Fatalf("lag histogram: %d series", n)
	}
}
