package main

import (
	"path/filepath"
	"slices"
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
