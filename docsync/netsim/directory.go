package netsim

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MemDirectory is an in-memory cloneservice.Directory of signed owner
// certificates; Resolve answers from the hosts the network started.
type MemDirectory struct {
	mu    sync.Mutex
	certs map[string]*dht.OwnerCert
	hosts map[peer.ID]host.Host
}

// NewMemDirectory returns an empty directory.
func NewMemDirectory() *MemDirectory {
	return &MemDirectory{certs: map[string]*dht.OwnerCert{}, hosts: map[peer.ID]host.Host{}}
}

func (d *MemDirectory) addHost(h host.Host) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hosts[h.ID()] = h
}

// Enroll signs an owner certificate for clone under a fresh user key and
// returns the user ID.
func (d *MemDirectory) Enroll(t testing.TB, clone peer.ID, hpkePub []byte, device string) peer.ID {
	user, err := dht.GenerateUserKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := dht.SignOwnerCert(user, dht.OwnerCert{Device: device, DeviceKey: clone, Clone: clone,
		CloneHPKE: hpkePub, Seq: 1, EOL: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.certs[dht.CertKey(cert.User, device)] = cert
	return cert.User
}

// Lookup returns the verified certificate of (user, device).
func (d *MemDirectory) Lookup(_ context.Context, user peer.ID, device string) (*dht.OwnerCert, error) {
	d.mu.Lock()
	c := d.certs[dht.CertKey(user, device)]
	d.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("netsim: no certificate for %s/%s", user, device)
	}
	if err := c.Verify(time.Now()); err != nil {
		return nil, err
	}
	return c, nil
}

// LookupClone implements cloneservice.Directory.
func (d *MemDirectory) LookupClone(ctx context.Context, user peer.ID, device string) (cloneservice.Clone, error) {
	c, err := d.Lookup(ctx, user, device)
	if err != nil {
		return cloneservice.Clone{}, err
	}
	return cloneservice.Clone{Peer: c.Clone, HPKE: c.CloneHPKE, Addrs: c.Addrs}, nil
}

// Resolve returns the addresses of a started host.
func (d *MemDirectory) Resolve(_ context.Context, p peer.ID) (peer.AddrInfo, error) {
	d.mu.Lock()
	h := d.hosts[p]
	d.mu.Unlock()
	if h == nil {
		return peer.AddrInfo{}, fmt.Errorf("netsim: unknown peer %s", p)
	}
	return peer.AddrInfo{ID: p, Addrs: h.Addrs()}, nil
}
