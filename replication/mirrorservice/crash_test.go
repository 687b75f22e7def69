package mirrorservice_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/mirrorservice"
	"github.com/clone2clone/c2c/replication/notes"
	"github.com/clone2clone/c2c/replication/syncclient"
)

// feeder types tokens on the device (note "u") and relays tokens from the
// network (note "n"), and records those acknowledged.
type feeder struct {
	mu        sync.Mutex
	user, net []string
}

func (f *feeder) run(ctx context.Context, c *syncclient.Client, srv *mirrorservice.Server, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		tok := fmt.Sprintf("%d;", i)
		if _, err := c.Input(ctx, notes.Name, notes.Insert("u", 0, []byte(tok))); err == nil {
			f.mu.Lock()
			f.user = append(f.user, tok)
			f.mu.Unlock()
		}
		if i%3 == 0 {
			if err := srv.Relay(ctx, notes.Name, notes.Insert("n", 0, []byte(tok))); err == nil {
				f.mu.Lock()
				f.net = append(f.net, tok)
				f.mu.Unlock()
			}
		}
	}
}

func (f *feeder) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.user)
}

// tokens splits a note of inserted tokens and fails on a duplicate.
func tokens(t testing.TB, side, note string, set *replication.AppSet) map[string]bool {
	v, _ := noteOf(t, set).Get(note)
	got := map[string]bool{}
	for _, tok := range strings.SplitAfter(string(v), ";") {
		if tok == "" {
			continue
		}
		if got[tok] {
			t.Fatalf("%s: note %s has %q twice (an input applied twice)", side, note, tok)
		}
		got[tok] = true
	}
	return got
}

// TestCrash: the clone, or the device, is killed at a random point while
// the device types and the clone relays; after restart from what was on
// disk, nothing acknowledged is lost, nothing is applied twice, and the
// mirror's state hash equals the device's.
func TestCrash(t *testing.T) {
	trials := 20
	if testing.Short() {
		trials = 3
	}
	for _, clone := range []bool{true, false} {
		for trial := range trials {
			name := fmt.Sprintf("device/%d", trial)
			if clone {
				name = fmt.Sprintf("clone/%d", trial)
			}
			t.Run(name, func(t *testing.T) { crashTrial(t, uint64(trial), clone) })
		}
	}
}

func crashTrial(t *testing.T, seed uint64, crashClone bool) {
	rng := rand.New(rand.NewPCG(seed*0x9e3779b97f4a7c15+1, 7)) // mixed: PCG's first draws from small seeds are close
	r := newRig(t)
	ctx := ctxT(t, 60*time.Second)
	cds, dds := openStore(t, r.cloneDir), openStore(t, r.deviceDir)
	srv := r.server(cds)
	c := r.clientT(dds, 15*time.Millisecond, 5*time.Millisecond)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	f := &feeder{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go f.run(ctx, c, srv, stop, &wg)
	at := 5 + rng.IntN(80) // crash after this many acknowledged inputs
	t.Logf("crash after %d inputs", at)
	if err := poll(ctx, func() bool { return f.count() >= at }); err != nil {
		t.Fatal(err)
	}
	if crashClone {
		_ = r.clone.Close() // the network dies first
		srv.Close()         // the loop stops; nothing is written on the way out
		dir := netsim.CopyDir(t, r.cloneDir)
		close(stop)
		wg.Wait()
		_ = cds.Close()
		r.clone = r.host(r.cloneKey, "/ip4/127.0.0.1/tcp/0")
		r.device.Peerstore().AddAddrs(r.clone.ID(), r.clone.Addrs(), time.Hour)
		cds = openStore(t, dir)
		srv = r.server(cds)
	} else {
		_ = r.device.Close()
		c.Close()
		dir := netsim.CopyDir(t, r.deviceDir)
		close(stop)
		wg.Wait()
		_ = dds.Close()
		r.device = r.host(r.devKey, "")
		dds = openStore(t, dir)
		c = r.clientT(dds, 15*time.Millisecond, 5*time.Millisecond)
	}
	defer func() { c.Close(); srv.Close(); _ = cds.Close(); _ = dds.Close() }()
	if err := poll(ctx, func() bool {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return c.Connect(cctx) == nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Input(ctx, notes.Name, notes.Insert("u", 0, []byte("after;"))); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, syncclient.Synced); err != nil {
		t.Fatal(err)
	}
	checkSame(t, ctx, c, srv, f)
}

// checkSame: device and mirror hold the same tokens, each once, including
// every acknowledged one, and their state hashes match.
func checkSame(t *testing.T, ctx context.Context, c *syncclient.Client, srv *mirrorservice.Server, f *feeder) {
	var du, dn, mu, mn map[string]bool
	_ = c.View(ctx, func(s *replication.AppSet) { du, dn = tokens(t, "device", "u", s), tokens(t, "device", "n", s) })
	_ = srv.View(ctx, func(s *replication.AppSet) { mu, mn = tokens(t, "mirror", "u", s), tokens(t, "mirror", "n", s) })
	for _, tok := range f.user {
		if !du[tok] || !mu[tok] {
			t.Fatalf("acknowledged user input %q lost (device %v, mirror %v)", tok, du[tok], mu[tok])
		}
	}
	for _, tok := range f.net {
		if !dn[tok] || !mn[tok] {
			t.Fatalf("acknowledged network input %q lost (device %v, mirror %v)", tok, dn[tok], mn[tok])
		}
	}
	if len(du) != len(mu) || len(dn) != len(mn) {
		t.Fatalf("device %d+%d tokens, mirror %d+%d", len(du), len(dn), len(mu), len(mn))
	}
	st, _ := c.Status(ctx)
	snap, _ := srv.Snapshot(ctx)
	t.Logf("%d user and %d network inputs acknowledged, %d+%d held; %d batches", len(f.user), len(f.net), len(du), len(dn), st.Number)
	if st.DeviceHash != snap.StateHash || st.Number != snap.Position.Taken {
		t.Fatalf("device at batch %d hash %v, mirror at %d hash %v", st.Number, st.DeviceHash, snap.Position.Taken, snap.StateHash)
	}
}

// poll checks cond until it holds or ctx ends (a bounded wait, no sleep as
// synchronization: each miss waits for a short tick).
func poll(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
