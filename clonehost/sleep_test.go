package clonehost

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/clone2clone/c2c/control"
	"github.com/clone2clone/c2c/dht"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
)

// waitState waits (bounded) until clone name is in state want.
func waitState(t testing.TB, h *Host, name string, want State, limit time.Duration) CloneInfo {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		in, _ := byName(h.Info(), name)
		if in.State == want {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("clone %s is %s after %v, want %s: %+v", name, in.State, limit, want, in)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// An idle clone falls asleep (its node closed, its port and control
// socket held), and traffic wakes it with its identity and state: a
// device's QUIC dial, its owner's control request, the operator's
// lookup from it. Stop and Start act on a sleeping clone as on a running
// one.
func TestIdleHostedClonesSleepAndWake(t *testing.T) {
	params := DefaultParams()
	params.IdleConnTimeout, params.SleepAfter = time.Second, time.Second
	p := newProvider(t, t.TempDir(), 3)
	h := p.start(t, params)
	defer p.stop(t, h)
	waitPublished(t, h, time.Minute)
	ids := map[string]peer.ID{}
	for _, c := range h.Clones() {
		ids[c.Name] = c.Node.ID()
	}
	for _, name := range []string{"c0", "c1", "c2"} {
		in := waitState(t, h, name, Asleep, time.Minute)
		if !in.Published || in.Conns != 0 || in.Peer != ids[name].String() {
			t.Fatalf("asleep: %+v", in)
		}
	}
	if n := len(h.Clones()); n != 0 {
		t.Fatalf("%d clones still running while all are asleep", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// A device resolves c0 at its provider and dials it: the dial wakes it.
	dev, err := libp2p.New(libp2p.NoListenAddrs)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if err := dev.Connect(ctx, p.node.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	ai, err := dht.ResolveVia(ctx, dev, p.node.ID(), ids["c0"])
	if err != nil || len(ai.Addrs) == 0 {
		t.Fatalf("resolving sleeping c0 at its provider: %v, %v", ai, err)
	}
	t0 := time.Now()
	if err := dev.Connect(ctx, peer.AddrInfo{ID: ids["c0"], Addrs: ai.Addrs}); err != nil {
		t.Fatalf("dialing sleeping c0: %v", err)
	}
	t.Logf("dialing sleeping c0 took %v", time.Since(t0))
	if c := h.Clone(ids["c0"]); c == nil {
		t.Fatal("c0 not running after the dial that woke it")
	}

	// Its owner's control request wakes c1 and is answered.
	cl := control.NewClient(filepath.Join(p.dir, "clones", "c1", control.SocketFile))
	defer cl.Close()
	t0 = time.Now()
	st, err := cl.Status(ctx)
	t.Logf("the control request that woke c1 took %v", time.Since(t0))
	if err != nil {
		t.Fatalf("control request to sleeping c1: %v", err)
	}
	if st.Peer != ids["c1"].String() {
		t.Fatalf("c1's status names %s, want %s", st.Peer, ids["c1"])
	}
	waitState(t, h, "c1", Running, time.Minute)

	// The operator's lookup from sleeping c2 wakes it and finds c0.
	res, err := h.Lookup(ctx, LookupRequest{From: ids["c2"].String(), User: p.certs[0].User.String(), Device: "phone"})
	if err != nil || res.Clone != ids["c0"].String() {
		t.Fatalf("lookup from sleeping c2: %+v, %v", res, err)
	}

	// Once idle again c2 sleeps; Stop frees its port, Start brings it up.
	_ = dev.Close()
	waitState(t, h, "c2", Asleep, time.Minute)
	addr := h.heldAddr("c2")
	if err := h.Stop("c2"); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, "c2", Stopped, time.Second)
	if u, err := net.ListenUDP("udp", addr); err != nil {
		t.Fatalf("a stopped clone's port is still held: %v", err)
	} else {
		_ = u.Close()
	}
	if err := h.Start(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if c := h.Clone(ids["c2"]); c == nil {
		t.Fatal("c2 not running after Start")
	}

	// An owner's connection that woke c0 and stays open (a watch) does not
	// hold up the host's Close.
	waitState(t, h, "c0", Asleep, time.Minute)
	owner, err := net.Dial("unix", filepath.Join(p.dir, "clones", "c0", control.SocketFile))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	waitState(t, h, "c0", Running, time.Minute)
	closed := make(chan error, 1)
	go func() { closed <- h.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("close host: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the host's Close waits for an owner's open control connection")
	}
}

// heldAddr is the UDP address the host holds for sleeping clone name.
func (h *Host) heldAddr(name string) *net.UDPAddr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.entries[name].asleep.udp.LocalAddr().(*net.UDPAddr)
}

// Only what may be a QUIC client's first datagram wakes a sleeping clone.
func TestIsQUICInitial(t *testing.T) {
	full := make([]byte, quicInitialMin)
	full[0] = 0xc3 // long header, fixed bit, Initial
	short := make([]byte, quicInitialMin)
	short[0] = 0x43 // short header: a stale connection's packet
	for _, c := range []struct {
		b    []byte
		want bool
	}{{full, true}, {full[:quicInitialMin-1], false}, {short, false}, {nil, false}, {[]byte{0xc3}, false}} {
		if got := isQUICInitial(c.b); got != c.want {
			t.Errorf("isQUICInitial(% x... len %d) = %v, want %v", c.b[:min(1, len(c.b))], len(c.b), got, c.want)
		}
	}
}
