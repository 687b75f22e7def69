package clonehost

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-datastore/query"
	"github.com/prometheus/client_golang/prometheus"
)

// serveAdmin serves h's admin socket in p's data dir and returns a client.
func serveAdmin(t testing.TB, p *provider, h *Host) *AdminClient {
	t.Helper()
	if err := os.Chmod(p.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stop, err := h.ServeAdmin(context.Background(), filepath.Join(p.dir, AdminSocket))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	c := NewAdminClient(filepath.Join(p.dir, AdminSocket))
	t.Cleanup(c.Close)
	return c
}

// waitInfo polls the admin socket (bounded) until ok holds for the list.
func waitInfo(t testing.TB, a *AdminClient, limit time.Duration, what string, ok func([]CloneInfo) bool) []CloneInfo {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		in, err := a.Clones(context.Background())
		if err == nil && ok(in) {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last list %+v, %v)", what, limit, in, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func byName(in []CloneInfo, name string) (CloneInfo, bool) { return byNameIn(in, name) }

// A running host enrols a clone without a restart, stops and starts one
// (stopped stays stopped across a restart of the host), removes a stopped
// one and refuses what it should, all over the admin socket; the
// collector exports what the list shows.
func TestEnrolStopStartOverAdmin(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t, t.TempDir(), 1)
	params := DefaultParams()
	params.Capacity = 3
	h := p.start(t, params)
	a := serveAdmin(t, p, h)
	if st, err := os.Stat(filepath.Join(p.dir, AdminSocket)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket: %v, mode %v", err, st.Mode().Perm())
	}

	// Enrol c1 into the running host.
	cert := enrollInto(t, filepath.Join(p.dir, "clones"), "c1")
	if err := a.Enrol(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	in := waitInfo(t, a, time.Minute, "c1 published", func(in []CloneInfo) bool {
		c, ok := byName(in, "c1")
		return ok && c.Published && c.State == Running
	})
	c1, _ := byName(in, "c1")
	if len(in) != 2 || c1.Peer != cert.Clone.String() || c1.User != cert.User.String() || c1.Conns == 0 || c1.MemoryBytes <= 0 {
		t.Fatalf("list after enrol: %+v", in)
	}
	waitInfo(t, a, time.Minute, "c1's ready file", func([]CloneInfo) bool {
		_, err := os.Stat(filepath.Join(p.dir, "clones", "c1", ReadyFile))
		return err == nil
	})
	if err := a.Enrol(ctx, "c1"); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("enrolling c1 twice: %v", err)
	}
	if err := a.Enrol(ctx, "../c0"); err == nil {
		t.Fatal("enrolled a name with a slash")
	}
	if err := a.Enrol(ctx, "nobody"); err == nil {
		t.Fatal("enrolled a directory without an owner certificate")
	}

	// Metrics: totals and one series per clone, labelled by name.
	reg := prometheus.NewRegistry()
	if err := reg.Register(h.Collector(true)); err != nil {
		t.Fatal(err)
	}
	if n := seriesOf(t, reg, "c2c_hosted_clone_connections"); n != 2 {
		t.Fatalf("%d per-clone connection series, want 2", n)
	}

	// Stop c0: its host closes, it is listed as stopped.
	if err := a.Stop(ctx, "c0"); err != nil {
		t.Fatal(err)
	}
	in = waitInfo(t, a, time.Second, "c0 stopped", func(in []CloneInfo) bool {
		c, ok := byName(in, "c0")
		return ok && c.State == Stopped
	})
	if c0, _ := byName(in, "c0"); c0.Conns != 0 || c0.Published {
		t.Fatalf("stopped clone listed as %+v", c0)
	}
	if len(h.Clones()) != 1 {
		t.Fatalf("%d clones running, want 1", len(h.Clones()))
	}
	if err := a.Remove(ctx, "c1"); err == nil {
		t.Fatal("removed a running clone")
	}

	// Stopped stays stopped across a restart of the host.
	p.stop(t, h)
	h = p.start(t, params)
	a = serveAdmin(t, p, h)
	in = waitInfo(t, a, time.Minute, "c1 back and published", func(in []CloneInfo) bool {
		c, ok := byName(in, "c1")
		return ok && c.Published
	})
	if c0, _ := byName(in, "c0"); c0.State != Stopped {
		t.Fatalf("after a restart c0 is %s, want stopped", c0.State)
	}

	// Start brings c0 back, and it publishes again.
	if err := a.Start(ctx, "c0"); err != nil {
		t.Fatal(err)
	}
	waitInfo(t, a, time.Minute, "c0 running and published", func(in []CloneInfo) bool {
		c, ok := byName(in, "c0")
		return ok && c.State == Running && c.Published
	})
	if _, err := os.Stat(filepath.Join(p.dir, "clones", "c0", StoppedFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("started clone keeps its stopped mark: %v", err)
	}

	// Capacity: 2 of 3 used; a third enrols, a fourth is refused.
	enrollInto(t, filepath.Join(p.dir, "clones"), "c2")
	enrollInto(t, filepath.Join(p.dir, "clones"), "c3")
	if err := a.Enrol(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if err := a.Enrol(ctx, "c3"); err == nil || !strings.Contains(err.Error(), "capacity") {
		t.Fatalf("enrolled past the capacity: %v", err)
	}

	// Remove a stopped clone: its directory and its data go.
	id := h.Clones()[0].Node.ID().String() // c0
	if err := a.Stop(ctx, "c0"); err != nil {
		t.Fatal(err)
	}
	if err := a.Remove(ctx, "c0"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "clones", "c0")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removed clone's directory: %v", err)
	}
	if keys := prefixKeys(t, p, id); keys != 0 {
		t.Fatalf("%d keys left under the removed clone's prefix", keys)
	}
	if _, ok := byName(h.Info(), "c0"); ok {
		t.Fatal("removed clone still listed")
	}
	p.stop(t, h)
}

func prefixKeys(t testing.TB, p *provider, id string) int {
	t.Helper()
	n, err := countKeys(p.shared.Sub(prefix(id)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func countKeys(ds interface {
	Query(context.Context, query.Query) (query.Results, error)
}) (int, error) {
	res, err := ds.Query(context.Background(), query.Query{KeysOnly: true})
	if err != nil {
		return 0, err
	}
	ents, err := res.Rest()
	return len(ents), err
}

// seriesOf counts the series of the metric called name in reg.
func seriesOf(t testing.TB, reg *prometheus.Registry, name string) int {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}
