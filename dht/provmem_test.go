package dht

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// The provider-memory measurement runs the provider in its own process (this
// test binary re-executed), so its heap holds only what the provider keeps:
// connections, peerstore, routing table, gossipsub peer state and the
// replica. Clones run in the parent on loopback QUIC. Run it with
//
//	C2C_PROVIDER_MEM=200 go test -run TestProviderMemoryPerClone -v ./dht

// fullNode builds a real libp2p host + kad-dht (server, "/c2c") + gossipsub
// + Directory on loopback QUIC.
func fullNode(ctx context.Context, opts ...Option) (host.Host, *kaddht.IpfsDHT, *Directory, error) {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"), // one socket per host, not one per connection
		libp2p.ResourceManager(&network.NullResourceManager{}))
	if err != nil {
		return nil, nil, nil, err
	}
	kad, err := kaddht.New(h, kaddht.Mode(kaddht.ModeServer), kaddht.ProtocolPrefix("/c2c"),
		kaddht.NamespacedValidator(Namespace, NewValidator(nil)), kaddht.DisableProviders())
	if err != nil {
		return nil, nil, nil, err
	}
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithMessageSignaturePolicy(pubsub.StrictSign))
	if err != nil {
		return nil, nil, nil, err
	}
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	d, err := New(h, kad, ps, opts...)
	return h, kad, d, err
}

// TestProviderMemChild is the provider process. It prints its address,
// then answers "mem" with its heap in use (after GC) and the records it
// holds, until stdin closes.
func TestProviderMemChild(t *testing.T) {
	if os.Getenv("C2C_PROVIDER_CHILD") != "1" {
		t.Skip("helper process for TestProviderMemoryPerClone")
	}
	ctx := context.Background()
	h, _, d, err := fullNode(ctx, WithReplica())
	if err != nil {
		t.Fatal(err)
	}
	go d.Run(ctx)
	fmt.Printf("addr %s/p2p/%s\n", h.Addrs()[0], h.ID())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Printf("mem %d %d %d\n", m.HeapAlloc, d.Stats().Records, len(h.Network().Peers()))
	}
}

func TestProviderMemoryPerClone(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("C2C_PROVIDER_MEM"))
	if n <= 0 || testing.Short() {
		t.Skip("set C2C_PROVIDER_MEM=<clones> to measure a provider's memory per clone")
	}
	ctx := context.Background()
	cmd := exec.Command(os.Args[0], "-test.run=^TestProviderMemChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), "C2C_PROVIDER_CHILD=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	out := bufio.NewScanner(stdout)
	var provAddr ma.Multiaddr
	for out.Scan() {
		if a, ok := strings.CutPrefix(out.Text(), "addr "); ok {
			provAddr = ma.StringCast(a)
			break
		}
	}
	prov, err := peer.AddrInfoFromP2pAddr(provAddr)
	if err != nil {
		t.Fatal(err)
	}
	mem := func() (heap uint64, records, peers int) {
		fmt.Fprintln(stdin, "mem")
		for out.Scan() {
			if _, err := fmt.Sscanf(out.Text(), "mem %d %d %d", &heap, &records, &peers); err == nil {
				return
			}
		}
		t.Fatal("provider process ended")
		return
	}
	base, _, _ := mem()
	var hosts []host.Host
	defer func() {
		for _, h := range hosts {
			_ = h.Close()
		}
	}()
	for i := range n {
		h, kad, d, err := fullNode(ctx, WithProviders(prov.ID))
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
		if err := h.Connect(ctx, *prov); err != nil {
			t.Fatal(err)
		}
		user, _ := GenerateUserKey()
		_, hpkePub, _ := GenerateHPKEKey()
		cert, err := SignOwnerCert(user, OwnerCert{Device: "phone", DeviceKey: seededID(t, uint64(i)), Clone: h.ID(),
			CloneHPKE: hpkePub, Addrs: h.Addrs(), Seq: 1, EOL: time.Now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		// Real time here: wait until the DHT and gossipsub know the provider.
		for kad.RoutingTable().Size() == 0 || !slices.Contains(d.ps.ListPeers(Topic), prov.ID) {
			time.Sleep(10 * time.Millisecond)
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = d.Publish(pctx, cert)
		cancel()
		if err != nil {
			t.Fatalf("clone %d publish: %v", i, err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	var heap uint64
	var records, peers int
	for {
		heap, records, peers = mem()
		if records == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("provider heap: %d B with 0 clones, %d B with %d clones connected (%d records held, %d peers): %.1f KiB per clone",
		base, heap, n, records, peers, float64(int64(heap)-int64(base))/float64(n)/1024)
	if records != n {
		t.Fatalf("provider holds %d records, want %d", records, n)
	}
}
