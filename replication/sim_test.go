package replication_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
)

var seedFlag = flag.Uint64("replication.seed", 0, "run the randomized mirror tests with this seed only (also C2C_REPLICATION_SEED)")

// seeds returns the seeds to run: the one asked for by flag or environment,
// else a few fixed ones and one from the clock, so that runs keep exploring
// while a failure names the seed that reproduces it.
func seeds(t *testing.T) []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	if s := os.Getenv("C2C_REPLICATION_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("C2C_REPLICATION_SEED: %v", err)
		}
		return []uint64{v}
	}
	return []uint64{1, 2, 3, uint64(time.Now().UnixNano())}
}

// TestEquivalenceVirtualTime is the property test: N devices with random
// t_syn_int and t_max, random user and network inputs, random link delays
// up to t_max. After every replay the mirror's state hash equals the one the
// device had at the end of that batch (checkReplay), the lag never exceeds
// t_syn_int+t_max, no batch replays late, and at the end every mirror holds
// exactly its device's notes.
func TestEquivalenceVirtualTime(t *testing.T) {
	for _, seed := range seeds(t) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("seed %d (rerun with -args -replication.seed=%d or C2C_REPLICATION_SEED=%d)", seed, seed, seed)
			runEquivalence(t, seed)
		})
	}
}

func runEquivalence(t *testing.T, seed uint64) {
	const devices = 5
	const virtual = 20 * time.Second
	syncs := []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, time.Second, 3 * time.Second}
	maxes := []time.Duration{time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond}
	var pairs []*pair
	start := replication.Time(1_700_000_000_000)
	for i := range devices {
		p := replication.DefaultParams()
		p.SyncInterval = syncs[(int(seed)+i)%len(syncs)]
		p.MaxDelay = maxes[(int(seed>>3)+i)%len(maxes)]
		if i == 0 {
			p.MaxDelay = 100 * time.Millisecond // the default always runs
		}
		p.MaxBatchInputs = 64 // so that full batches close early too
		pairs = append(pairs, newPair(t, fmt.Sprintf("device %d (seed %d)", i, seed), seed*31+uint64(i),
			pairOpts{params: p, start: start}))
	}
	now := start
	for end := start + replication.Time(virtual/time.Millisecond); now < end; now++ {
		for i, p := range pairs {
			user := 0.01 + 0.02*float64(i) // 10 to 90 inputs a second
			if (now/2000)%5 == 4 {
				user = 0.3 // bursts fill batches
			}
			p.step(now, user, 0.004)
		}
	}
	for _, p := range pairs {
		p.settle(now)
		st := p.mir.Stats()
		bound := p.params.SyncInterval + p.params.MaxDelay
		if st.Lag.Max > bound || st.Late != 0 || st.Divergences != 0 || len(p.refusals) != 0 {
			t.Fatalf("%s: lag max %v (bound %v), late %d, divergences %d, refusals %v",
				p.name, st.Lag.Max, bound, st.Late, st.Divergences, p.refusals)
		}
		if st.Batches == 0 || st.Events == 0 || uint64(len(p.replayed)) != st.Batches || p.dev.Number() != st.Batches {
			t.Fatalf("%s: %d batches replayed of %d closed", p.name, st.Batches, p.dev.Number())
		}
		sameNotes(t, p)
		t.Logf("%s: t_syn_int %v t_max %v: %d batches, %d events, lag p50 %v p99 %v max %v",
			p.name, p.params.SyncInterval, p.params.MaxDelay, st.Batches, st.Events,
			st.Lag.Quantile(0.5), st.Lag.Quantile(0.99), st.Lag.Max)
	}
}

// sameNotes compares the device's and the mirror's notes, key by key.
func sameNotes(t *testing.T, p *pair) {
	t.Helper()
	if p.dev.StateHash() != p.mir.StateHash() {
		t.Fatalf("%s: final state hashes differ", p.name)
	}
	for _, app := range []string{"notes", "inbox"} {
		d, m := notesOf(p.dev.Apps(), app), notesOf(p.mir.Apps(), app)
		if d.Len() != m.Len() {
			t.Fatalf("%s: %s has %d notes on the device, %d on the mirror", p.name, app, d.Len(), m.Len())
		}
		for _, k := range noteKeys {
			dv, dok := d.Get(k)
			mv, mok := m.Get(k)
			if dok != mok || !bytes.Equal(dv, mv) {
				t.Fatalf("%s: %s/%s differs", p.name, app, k)
			}
		}
	}
}
