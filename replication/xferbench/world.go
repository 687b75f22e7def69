// Package xferbench measures and exercises blob transfers for c2c bench
// transfer and the send-once-to-many test: a world of real libp2p hosts on
// loopback (TCP), each clone with its pebble datastore, mirror service,
// delivery service and blob server wired as c2c clone wires them, and
// phones running the sync client with a byte counter on their host (the
// device meter's). Only the directory is an in-memory map of the clones'
// signed owner certificates (deliver.MemDirectory), standing in for the
// DHT.
package xferbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/builtin"
	"github.com/clone2clone/c2c/replication/deliver"
	"github.com/clone2clone/c2c/replication/devicexfer"
	"github.com/clone2clone/c2c/replication/mirrorservice"
	"github.com/clone2clone/c2c/replication/syncclient"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Sync settings of the world's phones: short, so that a run is quick.
const (
	SyncInterval = 50 * time.Millisecond
	MaxDelay     = 20 * time.Millisecond
)

// Clone is one user's clone and the keys of its phone.
type Clone struct {
	User    peer.ID
	Cert    *dht.OwnerCert
	Host    host.Host
	DS      *pebbleds.Datastore
	Blobs   *boxostore.Store
	Mirror  *mirrorservice.Server
	Deliver *deliver.Service
	Blob    *blobxfer.Server
	Bytes   *device.ByteCounter // the clone host's stream bytes
	devKey  crypto.PrivKey
	dir     string
}

// NewClone makes a user, a clone host and its phone's enrolment, and
// publishes the certificate in d; Start runs the clone's services.
func NewClone(d *deliver.MemDirectory, base, name string) (*Clone, error) {
	userKey, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, err
	}
	c := &Clone{dir: filepath.Join(base, name), Bytes: device.NewByteCounter()}
	c.User, _ = peer.IDFromPrivateKey(userKey)
	if c.devKey, _, err = crypto.GenerateEd25519Key(nil); err != nil {
		return nil, err
	}
	devID, _ := peer.IDFromPrivateKey(c.devKey)
	if c.Host, err = libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.BandwidthReporter(c.Bytes)); err != nil {
		return nil, err
	}
	_, hpke, err := dht.GenerateHPKEKey()
	if err == nil {
		c.Cert, err = dht.SignOwnerCert(userKey, dht.OwnerCert{Device: "phone", DeviceKey: devID, Clone: c.Host.ID(),
			CloneHPKE: hpke, Seq: 1, EOL: time.Now().Add(24 * time.Hour)})
	}
	if err != nil {
		c.Host.Close()
		return nil, err
	}
	d.Add(c.Cert, peer.AddrInfo{ID: c.Host.ID(), Addrs: c.Host.Addrs()})
	return c, nil
}

// Start opens the clone's datastore and starts its mirror, delivery and
// blob services, as cmd/c2c's openCloneMirror does.
func (c *Clone) Start(ctx context.Context, d deliver.Directory, p deliver.Params) error {
	var err error
	if c.DS, err = pebbleds.NewDatastore(filepath.Join(c.dir, "datastore")); err != nil {
		return err
	}
	c.Blobs = boxostore.New(c.DS)
	if c.Deliver, err = deliver.New(c.Host, c.DS, c.Cert, c.Blobs, d, deliver.WithParams(p), deliver.WithLogger(quiet)); err != nil {
		return err
	}
	if c.Blob, err = blobxfer.New(c.Host, c.Blobs, c.Cert, blobxfer.WithAuthorizer(c.Deliver.Authorize), blobxfer.WithLogger(quiet)); err != nil {
		return err
	}
	c.Mirror, err = mirrorservice.New(ctx, c.Host, c.DS, c.Cert, builtin.Registry(c.Blobs),
		mirrorservice.WithLogger(quiet), mirrorservice.WithObserver(c.Deliver))
	if err != nil {
		return err
	}
	c.Deliver.Start(c.Mirror)
	return nil
}

// Close stops everything the clone runs.
func (c *Clone) Close() {
	if c.Blob != nil {
		_ = c.Blob.Close()
	}
	if c.Deliver != nil {
		_ = c.Deliver.Close()
	}
	if c.Mirror != nil {
		_ = c.Mirror.Close()
	}
	if c.DS != nil {
		_ = c.DS.Close()
	}
	_ = c.Host.Close()
}

// Phone is a clone's device: a client-only host with a byte counter, its
// own pebble store and the sync client, connected.
type Phone struct {
	*devicexfer.Device
	Bytes *device.ByteCounter
	DS    *pebbleds.Datastore
}

// StartPhone starts c's phone and connects it to its mirror.
func (c *Clone) StartPhone(ctx context.Context) (*Phone, error) {
	p := &Phone{Bytes: device.NewByteCounter()}
	h, err := libp2p.New(libp2p.Identity(c.devKey), libp2p.NoListenAddrs, libp2p.BandwidthReporter(p.Bytes))
	if err != nil {
		return nil, err
	}
	if p.DS, err = pebbleds.NewDatastore(filepath.Join(c.dir, "phone")); err != nil {
		h.Close()
		return nil, err
	}
	store := boxostore.New(p.DS)
	clone := peer.AddrInfo{ID: c.Host.ID(), Addrs: c.Host.Addrs()}
	cl, err := syncclient.New(ctx, h, clone, p.DS, builtin.Registry(store), syncclient.Config{User: c.User, Device: "phone",
		Apps: builtin.Apps, SyncInterval: SyncInterval, MaxDelay: MaxDelay}, syncclient.WithLogger(quiet))
	if err == nil {
		p.Device = &devicexfer.Device{Client: cl, Host: h, Clone: c.Host.ID(), Store: store}
		err = cl.Connect(ctx)
	}
	if err != nil {
		p.Close()
		h.Close()
		return nil, fmt.Errorf("phone: %w", err)
	}
	return p, nil
}

// Close stops the phone.
func (p *Phone) Close() {
	if p.Device != nil {
		_ = p.Client.Close()
		_ = p.Host.Close()
	}
	if p.DS != nil {
		_ = p.DS.Close()
	}
}

// WaitNet waits until the phone consumed n network inputs.
func (p *Phone) WaitNet(ctx context.Context, n uint64) error {
	return p.Client.Wait(ctx, func(s syncclient.Status) bool { return s.LastNet >= n })
}
