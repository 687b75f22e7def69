package node

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/internal/simquic"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// Nodes given a registry register libp2p's metrics and their own in it;
// several nodes share one registry (c2c demo) thanks to the peer label.
func TestMetricsRegisteredAndShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSimNet(t)
		reg := prometheus.NewRegistry()
		startWithMetrics := func(role Role, ip string, boot []peer.AddrInfo) *Node {
			cfg := DefaultConfig(role, t.TempDir())
			cfg.ListenAddrs = []ma.Multiaddr{ma.StringCast("/ip4/" + ip + "/udp/8000/quic-v1")}
			cfg.Bootstrap = boot
			n, err := New(context.Background(), cfg, WithLogger(quietLogger()), WithDatastore(memDatastore()), WithMetrics(reg),
				WithLibp2pOptions(simquic.Transport(s.sn, s.link), libp2p.DisableIdentifyAddressDiscovery()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Close() })
			return n
		}
		a := startWithMetrics(RoleProvider, "1.0.0.1", nil)
		b := startWithMetrics(RoleProvider, "1.0.0.2", []peer.AddrInfo{a.AddrInfo()})
		waitClosed(t, "b joined", b.Joined(), time.Minute)
		synctest.Wait()

		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, f := range families {
			seen[f.GetName()] = len(f.GetMetric())
		}
		if seen["c2c_node_routing_table_peers"] != 2 {
			t.Fatalf("c2c_node_routing_table_peers has %d series, want one per node", seen["c2c_node_routing_table_peers"])
		}
		if seen["c2c_directory_lookups_total"] != 6 || seen["c2c_directory_records"] != 2 {
			t.Fatalf("directory metrics: %d lookup series, %d records series", seen["c2c_directory_lookups_total"], seen["c2c_directory_records"])
		}
		libp2pFamilies := 0
		for name := range seen {
			if strings.HasPrefix(name, "libp2p_") {
				libp2pFamilies++
			}
		}
		if libp2pFamilies == 0 {
			t.Fatal("no libp2p metrics registered")
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		families, _ = reg.Gather()
		for _, f := range families {
			if f.GetName() == "c2c_node_routing_table_peers" && len(f.GetMetric()) != 1 {
				t.Fatalf("closed node's series still registered: %d", len(f.GetMetric()))
			}
		}
	})
}

func TestServeMetricsOverHTTP(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c2c_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := ServeMetrics(ctx, "127.0.0.1:0", reg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "c2c_test_total 3") {
		t.Fatalf("GET /metrics: %d\n%s", resp.StatusCode, body)
	}
}
