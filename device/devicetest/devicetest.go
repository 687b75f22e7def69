// Package devicetest attaches devices to clones in tests: it enrolls a
// device (a user key signs an owner certificate naming the device's key
// and the clone), serves the device link on the clone and starts the
// device's client, on a netsim network. It is a test helper, not linked
// into the daemon.
package devicetest

import (
	"context"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/server"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Device is a device enrolled with a clone.
type Device struct {
	Clone   *netsim.Clone
	UserKey crypto.PrivKey // the user's key, which signed Cert
	User    peer.ID
	Name    string
	Key     crypto.PrivKey // the device's key
	Cert    *dht.OwnerCert // (User, Name) -> Key -> Clone, valid for a day
}

// Enroll makes a user key and signs the owner certificate of device name
// on clone c; key is the device's key (nil: a fresh one).
func Enroll(t testing.TB, n *netsim.Net, c *netsim.Clone, name string, key crypto.PrivKey) *Device {
	t.Helper()
	userKey, err := dht.GenerateUserKey()
	if err != nil {
		t.Fatal(err)
	}
	if key == nil {
		key = netsim.NewKey(t)
	}
	dirCert, err := n.Dir.Lookup(context.Background(), c.User, c.Device)
	if err != nil {
		t.Fatal(err)
	}
	devID, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := dht.SignOwnerCert(userKey, dht.OwnerCert{Device: name, DeviceKey: devID, Clone: c.H.ID(),
		CloneHPKE: dirCert.CloneHPKE, Seq: 1, EOL: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	user, _ := peer.IDFromPrivateKey(userKey)
	return &Device{Clone: c, UserKey: userKey, User: user, Name: name, Key: key, Cert: cert}
}

// Serve serves the device link on the device's clone under its
// certificate (logging to n.Log), until cleanup.
func (d *Device) Serve(t testing.TB, n *netsim.Net, opts ...server.Option) *server.Server {
	t.Helper()
	srv, err := server.New(d.Clone.H, d.Clone.Svc, d.Cert, append([]server.Option{server.WithLogger(n.Log)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// Start starts the device's client on a new host of n, until cleanup.
func (d *Device) Start(t testing.TB, n *netsim.Net, opts ...client.Option) *client.Client {
	t.Helper()
	h := n.NewHost(d.Key)
	c, err := client.New(h, d.Clone.Info(), d.User, d.Name, append([]client.Option{client.WithLogger(n.Log)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Attach enrolls a device named name on clone c, serves the device link
// there and starts the device's client: what a test of a device needs.
func Attach(t testing.TB, n *netsim.Net, c *netsim.Clone, name string, opts ...client.Option) (*Device, *client.Client) {
	t.Helper()
	d := Enroll(t, n, c, name, nil)
	d.Serve(t, n)
	return d, d.Start(t, n, opts...)
}
