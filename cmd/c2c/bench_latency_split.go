package main

import (
	"runtime/metrics"
	"slices"
	"time"

	"github.com/clone2clone/c2c/node"
	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// Where an edit's latency goes, for c2c bench latency: the path to the
// first other clone (the author's clone, the sequencer, one delivery) and
// the fan-out after it (the other receivers), and the process's
// background work in the window that stalls both (the GC, pebble's
// flushes and compactions).

// tokenSpread is, for one clone-written token, its least and greatest
// latency over the receiving clones and how many received it.
type tokenSpread struct {
	first, last time.Duration
	n           int
}

// add counts one receiver's latency d.
func (t *tokenSpread) add(d time.Duration) {
	if t.n == 0 || d < t.first {
		t.first = d
	}
	t.last = max(t.last, d)
	t.n++
}

// pathAndFanout returns, over the tokens every one of receivers received,
// their first receiver's latencies and their last-minus-first spreads.
func pathAndFanout(spread map[rune]*tokenSpread, receivers int) (first, fanout []time.Duration) {
	for _, t := range spread {
		if t.n != receivers {
			continue
		}
		first = append(first, t.first)
		fanout = append(fanout, t.last-t.first)
	}
	return first, fanout
}

// datastores are the datastores of the run's nodes and seq, and the
// clones' shared one.
func (r *latencyRun) datastores(seq *node.Node) []datastore.Batching {
	var ds []datastore.Batching
	if r.net.shared != nil {
		ds = append(ds, r.net.shared.Datastore())
	}
	for _, n := range append(slices.Clip(r.net.nodes), seq) {
		ds = append(ds, n.Datastore())
	}
	return ds
}

// runtimeCounters are the Go runtime's totals that say how hard the GC
// worked.
type runtimeCounters struct {
	gcCycles   uint64
	gcCPU      float64 // seconds
	allocBytes uint64
	goMemory   uint64 // every byte the runtime holds, now
}

var runtimeCounterNames = []string{"/gc/cycles/total:gc-cycles", "/cpu/classes/gc/total:cpu-seconds", "/gc/heap/allocs:bytes", "/memory/classes/total:bytes"}

func readRuntimeCounters() runtimeCounters {
	s := make([]metrics.Sample, len(runtimeCounterNames))
	for i, n := range runtimeCounterNames {
		s[i].Name = n
	}
	metrics.Read(s)
	var c runtimeCounters
	if s[0].Value.Kind() == metrics.KindUint64 {
		c.gcCycles = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindFloat64 {
		c.gcCPU = s[1].Value.Float64()
	}
	if s[2].Value.Kind() == metrics.KindUint64 {
		c.allocBytes = s[2].Value.Uint64()
	}
	if s[3].Value.Kind() == metrics.KindUint64 {
		c.goMemory = s[3].Value.Uint64()
	}
	return c
}

// storeCounters add up the pebble databases of the process's nodes.
type storeCounters struct {
	flushes, compactions int64
	walBytes             uint64
}

// pebbleDBs are the distinct pebble databases under stores (a node on a
// shared datastore has a prefixed view of it, which is skipped: the
// shared one is passed itself).
func pebbleDBs(stores []datastore.Batching) []*pebble.DB {
	var dbs []*pebble.DB
	for _, s := range stores {
		if p, ok := s.(*pebbleds.Datastore); ok && !slices.Contains(dbs, p.DB) {
			dbs = append(dbs, p.DB)
		}
	}
	return dbs
}

func readStoreCounters(dbs []*pebble.DB) storeCounters {
	var c storeCounters
	for _, db := range dbs {
		m := db.Metrics()
		c.flushes += m.Flush.Count
		c.compactions += m.Compact.Count
		c.walBytes += m.WAL.BytesIn
	}
	return c
}
