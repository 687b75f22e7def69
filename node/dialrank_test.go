package node

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

func TestPreferTCPRanksTCPFirst(t *testing.T) {
	quic4 := ma.StringCast("/ip4/1.2.3.4/udp/4001/quic-v1")
	tcp4 := ma.StringCast("/ip4/1.2.3.4/tcp/4001")
	tcp6 := ma.StringCast("/ip6/2001:db8::1/tcp/4001")
	ws := ma.StringCast("/ip4/1.2.3.4/tcp/4002/ws")
	relay := ma.StringCast("/ip4/5.6.7.8/tcp/4001/p2p/12D3KooWGzBLfy3Yn5xNGUU8Q8FGekE7qQZc2BECN9uTx5cWEb8r/p2p-circuit")

	got := preferTCP([]ma.Multiaddr{quic4, ws, tcp4, relay, tcp6})
	if len(got) != 5 {
		t.Fatalf("ranked %d addresses of 5: %v", len(got), got)
	}
	var lastTCP time.Duration
	delay := map[string]time.Duration{}
	for _, ad := range got {
		delay[ad.Addr.String()] = ad.Delay
		if isDirectTCP(ad.Addr) {
			lastTCP = max(lastTCP, ad.Delay)
		}
	}
	if first := min(delay[tcp4.String()], delay[tcp6.String()]); first != 0 {
		t.Errorf("first TCP dial after %v, want at once: %v", first, got)
	}
	for _, a := range []ma.Multiaddr{quic4, ws, relay} {
		if d := delay[a.String()]; d < lastTCP+quicFallback {
			t.Errorf("%s dialed after %v, want at least %v (the last TCP dial's %v + %v)", a, d, lastTCP+quicFallback, lastTCP, quicFallback)
		}
	}

	// No TCP address: go-libp2p's own ranking.
	only := []ma.Multiaddr{quic4, ws}
	want := swarm.DefaultDialRanker([]ma.Multiaddr{quic4, ws})
	got = preferTCP(only)
	if len(got) != len(want) {
		t.Fatalf("without TCP: %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Addr.Equal(want[i].Addr) || got[i].Delay != want[i].Delay {
			t.Fatalf("without TCP: %v, want %v", got, want)
		}
	}
}

// Two cloud nodes on real loopback hosts, each listening on TCP and QUIC,
// connect over TCP; a peer whose TCP port refuses is still reached on
// QUIC; and a node without the TCP transport connects over QUIC.
func TestCloudNodesDialTCPFirst(t *testing.T) {
	start := func(opts ...Option) *Node {
		t.Helper()
		cfg := DefaultConfig(RoleProvider, t.TempDir())
		cfg.ListenAddrs = LoopbackListenAddrs()
		n, err := New(context.Background(), cfg, append([]Option{WithLogger(quietLogger()), WithDatastore(memDatastore())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	transportTo := func(from, to *Node, addrs []ma.Multiaddr) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := from.Host().Connect(ctx, peer.AddrInfo{ID: to.ID(), Addrs: addrs}); err != nil {
			t.Fatalf("connect: %v", err)
		}
		conns := from.Host().Network().ConnsToPeer(to.ID())
		if len(conns) != 1 {
			t.Fatalf("%d connections, want 1", len(conns))
		}
		a := conns[0].RemoteMultiaddr()
		if isDirectTCP(a) {
			return "tcp"
		}
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err == nil {
			return "quic"
		}
		return a.String()
	}

	a, b := start(), start()
	if got := transportTo(a, b, b.Host().Addrs()); got != "tcp" {
		t.Errorf("cloud node to cloud node over %s, want tcp", got)
	}

	// b's QUIC address and a TCP port where nothing listens.
	c := start()
	refusing := ma.StringCast("/ip4/127.0.0.1/tcp/1")
	var quicAddrs []ma.Multiaddr
	for _, addr := range b.Host().Addrs() {
		if !isDirectTCP(addr) {
			quicAddrs = append(quicAddrs, addr)
		}
	}
	if got := transportTo(c, b, append([]ma.Multiaddr{refusing}, quicAddrs...)); got != "quic" {
		t.Errorf("TCP refused: connected over %s, want quic", got)
	}

	q := start(WithQUICOnly())
	if got := transportTo(q, b, b.Host().Addrs()); got != "quic" {
		t.Errorf("a QUIC-only node connected over %s, want quic", got)
	}
}
