package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// A token's path is its first receiver's latency and its fan-out the
// spread to the last; tokens some receiver has not applied are left out.
func TestPathAndFanout(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	spread := map[rune]*tokenSpread{}
	for tok, lats := range map[rune][]int{'a': {7, 4, 9}, 'b': {3, 3, 5}, 'c': {2, 8}} {
		spread[tok] = &tokenSpread{}
		for _, l := range lats {
			spread[tok].add(ms(l))
		}
	}
	first, fanout := pathAndFanout(spread, 3)
	slices.Sort(first)
	slices.Sort(fanout)
	if want := []time.Duration{ms(3), ms(4)}; !slices.Equal(first, want) {
		t.Errorf("first receivers %v, want %v", first, want)
	}
	if want := []time.Duration{ms(2), ms(5)}; !slices.Equal(fanout, want) {
		t.Errorf("fan-outs %v, want %v", fanout, want)
	}
}

// The store counters read a real pebble database once however many
// views of it are passed, and count what was written to its log.
func TestStoreCounters(t *testing.T) {
	ds, err := pebbleds.NewDatastore(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	dbs := pebbleDBs([]datastore.Batching{ds, ds, datastore.NewMapDatastore()})
	if len(dbs) != 1 {
		t.Fatalf("%d databases, want 1", len(dbs))
	}
	before := readStoreCounters(dbs)
	if err := ds.Put(t.Context(), datastore.NewKey("/k"), make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if got := readStoreCounters(dbs).walBytes - before.walBytes; got < 1000 {
		t.Errorf("%d WAL bytes for a 1000-byte value", got)
	}
	if readRuntimeCounters().allocBytes == 0 {
		t.Error("the runtime reports no allocation")
	}
}

// A series compares each size with the first one round by round: the
// ratio is the median of the rounds' ratios, and the rounds within twice
// are counted for p50 and p99 apart.
func TestLatencySeriesCompare(t *testing.T) {
	run := func(clones int, p50, p99, cpu float64) *latencyResult {
		return &latencyResult{Clones: clones, CloneP50Ms: p50, CloneP99Ms: p99, CPUUsPerDelivery: cpu, BytesPerEdit: 3, FloorBytesPerEdit: 2}
	}
	r := &latencyReport{Sizes: []int{16, 32}, Runs: []*latencyResult{
		run(16, 4, 20, 300), run(32, 6, 50, 240), // 1.5x, 2.5x
		run(16, 5, 30, 300), run(32, 12, 55, 270), // 2.4x, 1.83x
		run(16, 8, 40, 300), run(32, 8, 60, 210), // 1x, 1.5x
	}}
	r.compare()
	if m := r.Median["16"]; m.CloneP50Ms != 5 || m.CloneP99Ms != 30 || m.BytesOverFloor != 1.5 {
		t.Errorf("median of 16: %+v", m)
	}
	q := r.RatioToFirst["32"]
	if q.CloneP50Ms != 1.5 || q.CloneP99Ms != 55.0/30 || q.CPUUsPerDelivery != 0.8 {
		t.Errorf("ratio of 32 to 16: %+v", q)
	}
	if w := r.WithinTwice["32"]; w != (roundsWithin{CloneP50: 2, CloneP99: 2, Rounds: 3}) {
		t.Errorf("within twice: %+v", w)
	}
	single := &latencyReport{Sizes: []int{16}, Runs: []*latencyResult{run(16, 4, 20, 300)}}
	b, err := single.MarshalJSON()
	if err != nil || !strings.Contains(string(b), `"clone_p50_ms":4,`) || strings.Contains(string(b), `"runs"`) {
		t.Errorf("one run's JSON is not its result alone: %s, %v", b, err)
	}
}
