package clonehost

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

func quiet() *slog.Logger {
	if os.Getenv("C2C_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// enrollInto writes what c2c enroll writes into dir/name for a user of
// its own, the clone's own key standing in for the device's, and returns
// the certificate.
func enrollInto(t testing.TB, dir, name string) *dht.OwnerCert {
	t.Helper()
	cert, _ := enroll(t, dir, name, false)
	return cert
}

// enroll is enrollInto, with a device key of its own when withDevice.
func enroll(t testing.TB, dir, name string, withDevice bool) (*dht.OwnerCert, crypto.PrivKey) {
	t.Helper()
	cdir := filepath.Join(dir, name)
	key, _, err := keystore.LoadOrCreatePrivKey(filepath.Join(cdir, node.IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	_, pub, _, err := keystore.LoadOrCreateHPKEKey(filepath.Join(cdir, node.HPKEKeyFile), dht.GenerateHPKEKey)
	if err != nil {
		t.Fatal(err)
	}
	user, err := dht.GenerateUserKey()
	if err != nil {
		t.Fatal(err)
	}
	dev, devID := key, id
	if withDevice {
		if dev, _, err = crypto.GenerateEd25519Key(nil); err != nil {
			t.Fatal(err)
		}
		devID, _ = peer.IDFromPrivateKey(dev)
	}
	cert, err := dht.SignOwnerCert(user, dht.OwnerCert{Device: "phone", DeviceKey: devID, Clone: id, CloneHPKE: pub,
		Seq: 1, EOL: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.WriteOwnerCert(cdir, cert); err != nil {
		t.Fatal(err)
	}
	return cert, dev
}

// provider is a provider node on loopback with its clones directory
// enrolled with n clones, on one Shared, as c2c provider --host-clones
// assembles them.
type provider struct {
	dir    string
	boot   []peer.AddrInfo // other providers, for the provider and its clones
	shared *node.Shared
	node   *node.Node
	certs  []*dht.OwnerCert
}

func newProvider(t testing.TB, dir string, n int) *provider {
	t.Helper()
	p := &provider{dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, "clones"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p.certs = append(p.certs, enrollInto(t, filepath.Join(dir, "clones"), "c"+strconv.Itoa(i)))
	}
	return p
}

func (p *provider) start(t testing.TB, params Params) *Host {
	t.Helper()
	cfg := node.DefaultConfig(node.RoleProvider, p.dir)
	cfg.ListenAddrs = node.LoopbackListenAddrs()
	cfg.Bootstrap = p.boot
	var err error
	if p.shared, err = node.OpenShared(filepath.Join(p.dir, node.DatastoreDir), cfg.Params, max(len(p.certs), params.Capacity)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if p.node, err = node.New(ctx, cfg, node.WithLogger(quiet()), node.WithSharedDatastore(p.shared, "")); err != nil {
		t.Fatal(err)
	}
	h, err := Open(ctx, Config{Dir: filepath.Join(p.dir, "clones"), Shared: p.shared,
		Bootstrap: append([]peer.AddrInfo{p.node.AddrInfo()}, p.boot...), ListenIP: "127.0.0.1", Params: params, Logger: quiet(),
		Replica: p.node.Directory()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (p *provider) stop(t testing.TB, h *Host) {
	t.Helper()
	if err := h.Close(); err != nil {
		t.Errorf("close host: %v", err)
	}
	if err := p.node.Close(); err != nil {
		t.Errorf("close provider: %v", err)
	}
	if err := p.shared.Close(); err != nil {
		t.Errorf("close shared: %v", err)
	}
}

// waitPublished waits (bounded) until every hosted clone has published.
func waitPublished(t testing.TB, h *Host, limit time.Duration) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for _, c := range h.Clones() {
		select {
		case <-c.Node.Published():
		case <-deadline.C:
			joined := false
			select {
			case <-c.Node.Joined():
				joined = true
			default:
			}
			t.Fatalf("clone %s not published within %v (joined %v, %d in its routing table, %d connections)",
				c.Name, limit, joined, c.Node.DHT().RoutingTable().Size(), len(c.Node.Host().Network().Conns()))
		}
	}
}

// Hosted clones run under their certificates' peer IDs, publish, find
// each other through their own directories, keep their data under their
// own prefix of the one datastore, and come back from a restart with it.
func TestHostedClones(t *testing.T) {
	p := newProvider(t, t.TempDir(), 4)
	h := p.start(t, DefaultParams())
	waitPublished(t, h, time.Minute)
	clones := h.Clones()
	if len(clones) != 4 {
		t.Fatalf("%d clones hosted, want 4", len(clones))
	}
	for i, c := range clones {
		if c.Node.ID() != p.certs[i].Clone {
			t.Fatalf("clone %s runs as %s, its certificate names %s", c.Name, c.Node.ID(), p.certs[i].Clone)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range clones {
		target := p.certs[(i+1)%len(clones)]
		res, err := h.Lookup(ctx, LookupRequest{From: clones[i].Node.ID().String(), User: target.User.String(), Device: "phone"})
		if err != nil || res.Clone != target.Clone.String() {
			t.Fatalf("clone %d looking up clone %d: %+v, %v", i, (i+1)%len(clones), res, err)
		}
	}
	// The provider's replica holds every hosted clone's record (Hold,
	// right after each publication).
	deadline := time.Now().Add(time.Minute)
	for p.node.Directory().Stats().Records < len(clones) {
		if time.Now().After(deadline) {
			t.Fatalf("provider replica holds %d records, want %d", p.node.Directory().Stats().Records, len(clones))
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	// Each clone's directory records live under /clones/<its peer ID>.
	for _, c := range clones {
		prefix := "/clones/" + c.Node.ID().String() + "/dir"
		res, err := p.shared.Datastore().Query(ctx, query.Query{Prefix: prefix, KeysOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		entries, err := res.Rest()
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 {
			t.Fatalf("nothing under %s", prefix)
		}
	}
	mark := datastore.NewKey("/docs/test-mark")
	if err := clones[0].Node.Datastore().Put(ctx, mark, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := clones[1].Node.Datastore().Has(ctx, mark); ok {
		t.Fatal("clone 1 sees clone 0's key")
	}
	p.stop(t, h)

	h = p.start(t, DefaultParams())
	defer p.stop(t, h)
	waitPublished(t, h, time.Minute)
	back := h.Clones()
	if ok, err := back[0].Node.Datastore().Has(ctx, mark); !ok || err != nil {
		t.Fatalf("after a restart clone 0's key is gone: %v, %v", ok, err)
	}
	for i, c := range back {
		if c.Node.ID() != p.certs[i].Clone {
			t.Fatalf("after a restart clone %s runs as %s", c.Name, c.Node.ID())
		}
	}
	in := h.Info()
	for _, c := range in {
		if !c.Published {
			t.Fatalf("admin lists %s as not published", c.Name)
		}
	}
}

// BenchmarkIdleHostedClones hosts C2C_BENCH_CLONES clones (default 50)
// behind one provider in this process and then idles 10 s per iteration;
// with C2C_IDLE_PROFILE=FILE it writes a CPU profile of the idle windows
// only, to see where idle clones spend CPU, and with C2C_HEAP_PROFILE=FILE
// a heap profile after them. The window starts once every clone holds no
// connection and is asleep (C2C_BENCH_IDLE_CONN and C2C_BENCH_SLEEP_AFTER
// override Params.IdleConnTimeout and Params.SleepAfter; 0 keeps them
// connected or awake).
func BenchmarkIdleHostedClones(b *testing.B) {
	n := 50
	if v, err := strconv.Atoi(os.Getenv("C2C_BENCH_CLONES")); err == nil && v > 0 {
		n = v
	}
	params := DefaultParams()
	if v, err := time.ParseDuration(os.Getenv("C2C_BENCH_IDLE_CONN")); err == nil {
		params.IdleConnTimeout = v
	}
	if v, err := time.ParseDuration(os.Getenv("C2C_BENCH_SLEEP_AFTER")); err == nil {
		params.SleepAfter = v // 0: awake
	}
	p := newProvider(b, b.TempDir(), n)
	h := p.start(b, params)
	defer p.stop(b, h)
	waitPublished(b, h, 5*time.Minute)
	if params.IdleConnTimeout > 0 {
		// Idle is once the clones closed what nobody uses,
		for _, c := range h.Clones() {
			waitNoConns(b, c, 3*params.IdleConnTimeout+time.Minute)
		}
	}
	if params.SleepAfter > 0 {
		// and fell asleep.
		for _, in := range h.Info() {
			waitState(b, h, in.Name, Asleep, 3*params.SleepAfter+time.Minute)
		}
	}
	if path := os.Getenv("C2C_IDLE_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, t0 := processCPU(b), time.Now()
	b.ResetTimer()
	for b.Loop() {
		time.Sleep(10 * time.Second) // the idle window being profiled
	}
	b.StopTimer()
	b.ReportMetric(100*float64(processCPU(b)-cpu0)/float64(time.Since(t0)), "idle-cpu-%")
	if path := os.Getenv("C2C_HEAP_PROFILE"); path != "" {
		runtime.GC()
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/float64(n), "heap-bytes/clone")
	b.ReportMetric(float64(runtime.NumGoroutine())/float64(n), "goroutines/clone")
	b.ReportMetric(float64(n), "clones")
}

// With Params.TCP a hosted clone also listens on TCP, and a peer that can
// only speak TCP (its network blocks UDP) reaches it there.
func TestHostedClonesOverTCP(t *testing.T) {
	p := newProvider(t, t.TempDir(), 2)
	params := DefaultParams()
	params.TCP = true
	h := p.start(t, params)
	defer p.stop(t, h)
	waitPublished(t, h, time.Minute)
	c := h.Clones()[0]
	var tcpAddrs []ma.Multiaddr
	for _, a := range c.Node.Host().Addrs() {
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			tcpAddrs = append(tcpAddrs, a)
		}
	}
	if len(tcpAddrs) == 0 {
		t.Fatalf("clone %s listens on %v: no TCP address", c.Name, c.Node.Host().Addrs())
	}
	tcpOnly, err := libp2p.New(libp2p.NoTransports, libp2p.Transport(tcp.NewTCPTransport), libp2p.NoListenAddrs)
	if err != nil {
		t.Fatal(err)
	}
	defer tcpOnly.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tcpOnly.Connect(ctx, peer.AddrInfo{ID: c.Node.ID(), Addrs: tcpAddrs}); err != nil {
		t.Fatalf("a TCP-only peer cannot reach the hosted clone: %v", err)
	}
	target := p.certs[0]
	res, err := h.Lookup(ctx, LookupRequest{From: h.Clones()[1].Node.ID().String(), User: target.User.String(), Device: "phone"})
	if err != nil || res.Clone != target.Clone.String() {
		t.Fatalf("clone 1 looking up clone 0 with TCP on: %+v, %v", res, err)
	}
}

// processCPU is the test process's user and system CPU time so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Idle hosted clones close every connection (Params.IdleConnTimeout), and
// are still found: a lookup of their records, peer routing to their
// addresses from another provider's clone (FIND_PEER answered by the
// hosting provider, which holds its clones' addresses), and a device's
// resolve at either provider, after which it connects: traffic wakes the
// clone.
func TestIdleHostedClonesHoldNoConnections(t *testing.T) {
	params := DefaultParams()
	params.IdleConnTimeout = 2 * time.Second
	params.SleepAfter = 0 // awake, to see what an idle clone holds (sleep_test.go: asleep)
	pa := newProvider(t, t.TempDir(), 1)
	ha := pa.start(t, params)
	defer pa.stop(t, ha)
	pb := newProvider(t, t.TempDir(), 1)
	pb.boot = []peer.AddrInfo{pa.node.AddrInfo()}
	hb := pb.start(t, params)
	defer pb.stop(t, hb)
	waitPublished(t, ha, time.Minute)
	waitPublished(t, hb, time.Minute)
	a, b := ha.Clones()[0], hb.Clones()[0]
	waitNoConns(t, a, time.Minute)
	waitNoConns(t, b, time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := hb.Lookup(ctx, LookupRequest{From: b.Node.ID().String(), User: pa.certs[0].User.String(), Device: "phone"})
	if err != nil || res.Clone != a.Node.ID().String() {
		t.Fatalf("idle clone b looking up idle clone a: %+v, %v", res, err)
	}
	ai, err := b.Node.Directory().Resolve(ctx, a.Node.ID())
	if err != nil || len(ai.Addrs) == 0 {
		t.Fatalf("clone b resolving idle clone a through the DHT: %v, %v", ai, err)
	}
	waitNoConns(t, a, time.Minute)
	dev, err := libp2p.New(libp2p.NoListenAddrs)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	for _, p := range []*provider{pa, pb} {
		if err := dev.Connect(ctx, p.node.AddrInfo()); err != nil {
			t.Fatal(err)
		}
		ai, err := dht.ResolveVia(ctx, dev, p.node.ID(), a.Node.ID())
		if err != nil || len(ai.Addrs) == 0 {
			t.Fatalf("resolving idle clone a at provider %s: %v, %v", p.node.ID(), ai, err)
		}
	}
	if err := dev.Connect(ctx, peer.AddrInfo{ID: a.Node.ID(), Addrs: ai.Addrs}); err != nil {
		t.Fatalf("dialing the idle clone: %v", err)
	}
}

// waitNoConns waits (bounded) until c holds no connection.
func waitNoConns(t testing.TB, c *Clone, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for len(c.Node.Host().Network().Conns()) > 0 {
		if time.Now().After(deadline) {
			var held []string
			for _, conn := range c.Node.Host().Network().Conns() {
				var protos []string
				for _, s := range conn.GetStreams() {
					protos = append(protos, string(s.Protocol()))
				}
				held = append(held, fmt.Sprintf("%s %v", conn.RemotePeer(), protos))
			}
			t.Fatalf("clone %s still holds connections after %v: %v", c.Name, limit, held)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}
