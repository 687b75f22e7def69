package deliver

import (
	"context"
	"sync"

	"github.com/clone2clone/c2c/dht"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MemDirectory is an in-memory Directory of signed owner certificates
// (tests and benchmarks; c2c clone uses *dht.Directory). Safe for
// concurrent use.
type MemDirectory struct {
	mu    sync.Mutex
	certs map[string]*dht.OwnerCert
	devs  map[peer.ID][]string
	addrs map[peer.ID]peer.AddrInfo
}

// NewMemDirectory returns an empty directory.
func NewMemDirectory() *MemDirectory {
	return &MemDirectory{certs: map[string]*dht.OwnerCert{}, devs: map[peer.ID][]string{}, addrs: map[peer.ID]peer.AddrInfo{}}
}

// Add publishes cert, adds its device to its user's index and records
// where its clone listens.
func (d *MemDirectory) Add(cert *dht.OwnerCert, addrs peer.AddrInfo) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.certs[string(cert.User)+"/"+cert.Device] = cert
	d.devs[cert.User] = append(d.devs[cert.User], cert.Device)
	d.addrs[cert.Clone] = addrs
}

// Lookup implements Directory.
func (d *MemDirectory) Lookup(_ context.Context, u peer.ID, dev string) (*dht.OwnerCert, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.certs[string(u)+"/"+dev]; ok {
		return c, nil
	}
	return nil, dht.ErrNotFound
}

// Devices implements Directory.
func (d *MemDirectory) Devices(_ context.Context, u peer.ID) (*dht.DeviceIndex, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return &dht.DeviceIndex{User: u, Devices: append([]string(nil), d.devs[u]...)}, nil
}

// Resolve implements Directory.
func (d *MemDirectory) Resolve(_ context.Context, p peer.ID) (peer.AddrInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addrs[p], nil
}
