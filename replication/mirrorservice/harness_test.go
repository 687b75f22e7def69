package mirrorservice_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/mirrorservice"
	"github.com/clone2clone/c2c/replication/notes"
	"github.com/clone2clone/c2c/replication/syncclient"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func registry(t testing.TB) *replication.Registry {
	reg := replication.NewRegistry()
	if err := notes.Register(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// rig is a clone host and a device host on 127.0.0.1 with an owner
// certificate binding them, and the data dirs of each side.
type rig struct {
	t                   testing.TB
	user, devKey        crypto.PrivKey
	cloneKey            crypto.PrivKey
	cert                *dht.OwnerCert
	cloneDir, deviceDir string
	clone, device       host.Host
}

func newRig(t testing.TB) *rig {
	r := &rig{t: t, cloneDir: t.TempDir(), deviceDir: t.TempDir()}
	var err error
	for _, k := range []*crypto.PrivKey{&r.user, &r.devKey, &r.cloneKey} {
		if *k, _, err = crypto.GenerateEd25519Key(nil); err != nil {
			t.Fatal(err)
		}
	}
	cloneID, _ := peer.IDFromPrivateKey(r.cloneKey)
	devID, _ := peer.IDFromPrivateKey(r.devKey)
	_, hpke, err := dht.GenerateHPKEKey()
	if err != nil {
		t.Fatal(err)
	}
	r.cert, err = dht.SignOwnerCert(r.user, dht.OwnerCert{Device: "phone", DeviceKey: devID, Clone: cloneID,
		CloneHPKE: hpke, Seq: 1, EOL: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	r.clone = r.host(r.cloneKey, "/ip4/127.0.0.1/tcp/0")
	r.device = r.host(r.devKey, "")
	return r
}

func (r *rig) host(k crypto.PrivKey, listen string) host.Host {
	opts := []libp2p.Option{libp2p.Identity(k)}
	if listen == "" {
		opts = append(opts, libp2p.NoListenAddrs)
	} else {
		opts = append(opts, libp2p.ListenAddrStrings(listen))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { h.Close() })
	return h
}

func openStore(t testing.TB, dir string) *pebbleds.Datastore {
	ds, err := pebbleds.NewDatastore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func (r *rig) server(ds *pebbleds.Datastore, opts ...mirrorservice.Option) *mirrorservice.Server {
	s, err := mirrorservice.New(context.Background(), r.clone, ds, r.cert, registry(r.t), append([]mirrorservice.Option{mirrorservice.WithLogger(quiet)}, opts...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) client(ds *pebbleds.Datastore, syn time.Duration) *syncclient.Client {
	return r.clientT(ds, syn, 20*time.Millisecond)
}

func (r *rig) clientT(ds *pebbleds.Datastore, syn, tmax time.Duration) *syncclient.Client {
	user, _ := peer.IDFromPrivateKey(r.user)
	r.device.Peerstore().AddAddrs(r.clone.ID(), r.clone.Addrs(), time.Hour)
	c, err := syncclient.New(context.Background(), r.device, peer.AddrInfo{ID: r.clone.ID()}, ds, registry(r.t),
		syncclient.Config{User: user, Device: "phone", Apps: []string{notes.Name}, SyncInterval: syn, MaxDelay: tmax},
		syncclient.WithLogger(quiet))
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func noteOf(t testing.TB, set *replication.AppSet) *notes.App {
	a, ok := set.App(notes.Name)
	if !ok {
		t.Fatal("no notes app")
	}
	return a.(*notes.App)
}
