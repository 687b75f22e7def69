package node

import (
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	ma "github.com/multiformats/go-multiaddr"
)

// openFromOneIP opens inbound connections from one public IPv4 address
// until the resource manager refuses one or n are open; it returns how many
// it opened.
func openFromOneIP(t *testing.T, rm network.ResourceManager, n int) int {
	return openFrom(t, rm, "/ip4/203.0.113.7/tcp/%d", n)
}

// A provider serves thousands of clones, many behind one NAT address:
// rcmgr's defaults stop at 8 connections per IPv4 address, ours must not.
func TestProviderResourceManagerAcceptsManyConnsPerIP(t *testing.T) {
	def, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(rcmgr.DefaultLimits.AutoScale()))
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if got := openFromOneIP(t, def, 100); got >= 100 {
		t.Fatalf("rcmgr defaults accepted %d connections from one IP; the test premise is wrong", got)
	}

	p := DefaultParams(RoleProvider)
	rm, err := newResourceManager(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	const want = 2000
	if got := openFromOneIP(t, rm, want); got != want {
		t.Fatalf("provider resource manager accepted %d of %d connections from one IP", got, want)
	}
}

func TestCloneResourceManagerStillLimitsPerIP(t *testing.T) {
	p := DefaultParams(RoleClone)
	rm, err := newResourceManager(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	if got := openFromOneIP(t, rm, p.MaxConnsPerIP+10); got != p.MaxConnsPerIP {
		t.Fatalf("clone accepted %d connections from one IP, want the limit %d", got, p.MaxConnsPerIP)
	}
}

// openFrom opens inbound connections from addr (a multiaddr format with
// one %d for the port) until one is refused or n are open.
func openFrom(t *testing.T, rm network.ResourceManager, format string, n int) int {
	t.Helper()
	var scopes []network.ConnManagementScope
	defer func() {
		for _, s := range scopes {
			s.Done()
		}
	}()
	for i := range n {
		s, err := rm.OpenConnection(network.DirInbound, true, ma.StringCast(fmt.Sprintf(format, 10000+i)))
		if err != nil {
			return i
		}
		scopes = append(scopes, s)
	}
	return n
}

// Loopback is exempt from the per-IP limit unless LimitLoopback is set, so
// that tests and the abuse bench can exercise the limits from 127.0.0.1.
func TestLoopbackExemptionIsConfigurable(t *testing.T) {
	for _, limit := range []bool{false, true} {
		p := DefaultParams(RoleClone)
		p.LimitLoopback = limit
		rm, err := newResourceManager(p, false)
		if err != nil {
			t.Fatal(err)
		}
		got := openFrom(t, rm, "/ip4/127.0.0.1/tcp/%d", p.MaxConnsPerIP+10)
		rm.Close()
		switch {
		case limit && got != p.MaxConnsPerIP:
			t.Fatalf("LimitLoopback: %d loopback connections, want the per-IP limit %d", got, p.MaxConnsPerIP)
		case !limit && got != p.MaxConnsPerIP+10:
			t.Fatalf("default: %d loopback connections, want all %d", got, p.MaxConnsPerIP+10)
		}
	}
}

// One peer identity gets StreamsPerPeer inbound streams and ConnsPerPeer
// connections, wherever it connects from (loopback included).
func TestPerPeerLimits(t *testing.T) {
	p := DefaultParams(RoleClone)
	p.StreamsPerPeer, p.ConnsPerPeer = 16, 3
	rm, err := newResourceManager(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	const who = peer.ID("12D3KooWstranger")
	var streams []network.StreamManagementScope
	for range p.StreamsPerPeer + 10 {
		s, err := rm.OpenStream(who, network.DirInbound)
		if err != nil {
			break
		}
		streams = append(streams, s)
	}
	for _, s := range streams {
		s.Done()
	}
	if len(streams) != p.StreamsPerPeer {
		t.Fatalf("one peer opened %d inbound streams, want %d", len(streams), p.StreamsPerPeer)
	}
	conns := 0
	var scopes []network.ConnManagementScope
	for i := range p.ConnsPerPeer + 5 {
		s, err := rm.OpenConnection(network.DirInbound, true, ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 20000+i)))
		if err != nil {
			t.Fatal(err)
		}
		scopes = append(scopes, s)
		if s.SetPeer(who) != nil {
			break
		}
		conns++
	}
	for _, s := range scopes {
		s.Done()
	}
	if conns != p.ConnsPerPeer {
		t.Fatalf("one peer held %d connections, want %d", conns, p.ConnsPerPeer)
	}
}

// openStreams opens a stream from each of peers peers, n in all, on proto
// (a protocol and a service of that name, as kad-dht and gossipsub set
// them) until the resource manager refuses one; it returns how many it
// opened.
func openStreams(t *testing.T, rm network.ResourceManager, dir network.Direction, peers, n int) int {
	t.Helper()
	var scopes []network.StreamManagementScope
	defer func() {
		for _, s := range scopes {
			s.Done()
		}
	}()
	const proto = "/c2c/kad/1.0.0"
	for i := range n {
		s, err := rm.OpenStream(peer.ID(fmt.Sprintf("12D3KooWclone%d", i%peers)), dir)
		if err != nil {
			return i
		}
		scopes = append(scopes, s)
		if s.SetProtocol(proto) != nil || s.SetService(proto) != nil {
			return i
		}
	}
	return n
}

// A provider holds a kad stream and a gossipsub stream from every clone it
// serves: rcmgr's protocol-wide default (1,265 inbound streams on a 24 GiB
// machine) stopped the N=3000 simulation at 1,263 clones.
func TestProviderAcceptsStreamsFromThousandsOfClones(t *testing.T) {
	const clones = 10000
	def, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(rcmgr.DefaultLimits.AutoScale()))
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if got := openStreams(t, def, network.DirInbound, clones, clones); got >= clones {
		t.Fatalf("rcmgr defaults accepted %d inbound streams on one protocol; the test premise is wrong", got)
	}
	rm, err := newResourceManager(DefaultParams(RoleProvider), false)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	if got := openStreams(t, rm, network.DirInbound, clones, clones); got != clones {
		t.Fatalf("provider accepted %d of %d clones' inbound streams on one protocol", got, clones)
	}
}

// The shared budget of a process hosting thousands of clones: each
// clone's kad stream to each of 3 providers is one protocol's outbound
// stream in that one resource manager.
func TestSharedBudgetOpensStreamsForEveryHostedClone(t *testing.T) {
	const hosted, providers = 3400, 3
	rm, err := scaledResourceManager(DefaultParams(RoleProvider), hosted, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	if got := openStreams(t, rm, network.DirOutbound, providers, hosted*providers); got != hosted*providers {
		t.Fatalf("shared budget opened %d of %d outbound streams on one protocol", got, hosted*providers)
	}
}
