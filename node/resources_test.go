package node

import (
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	ma "github.com/multiformats/go-multiaddr"
)

// openFromOneIP opens inbound connections from one public IPv4 address
// until the resource manager refuses one or n are open; it returns how many
// it opened.
func openFromOneIP(t *testing.T, rm network.ResourceManager, n int) int {
	t.Helper()
	var scopes []network.ConnManagementScope
	defer func() {
		for _, s := range scopes {
			s.Done()
		}
	}()
	for i := range n {
		addr := ma.StringCast(fmt.Sprintf("/ip4/203.0.113.7/tcp/%d", 10000+i))
		s, err := rm.OpenConnection(network.DirInbound, true, addr)
		if err != nil {
			return i
		}
		scopes = append(scopes, s)
	}
	return n
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
	rm, err := newResourceManager(p)
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
	rm, err := newResourceManager(p)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	if got := openFromOneIP(t, rm, p.MaxConnsPerIP+10); got != p.MaxConnsPerIP {
		t.Fatalf("clone accepted %d connections from one IP, want the limit %d", got, p.MaxConnsPerIP)
	}
}
