package paperbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/clone2clone/c2c/device/server"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/clone2clone/c2c/internal/reconnect"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// world is the cloud side of one mode's run, in the parent process: real
// hosts on 127.0.0.1 (QUIC) with gossipsub and pebble datastores.
type world struct {
	dir    string
	log    *slog.Logger
	direct *directory
	closer []func()
}

func newWorld(dir string, log *slog.Logger) *world {
	return &world{dir: dir, log: log, direct: newDirectory()}
}

func (w *world) close() {
	for i := len(w.closer) - 1; i >= 0; i-- {
		w.closer[i]()
	}
	w.closer = nil
}

// peerNode is one host with gossipsub and a datastore.
type peerNode struct {
	key crypto.PrivKey
	h   host.Host
	ps  *pubsub.PubSub
	ds  *pebbleds.Datastore
}

func (p *peerNode) addr() string { return fmt.Sprintf("%s/p2p/%s", p.h.Addrs()[0], p.h.ID()) }
func (p *peerNode) info() peer.AddrInfo {
	return peer.AddrInfo{ID: p.h.ID(), Addrs: p.h.Addrs()}
}

func (w *world) newPeer(name string) (*peerNode, error) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, err
	}
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"))
	if err != nil {
		return nil, err
	}
	w.closer = append(w.closer, func() { h.Close() })
	rw, err := reconnect.Watch(h, reconnect.DefaultParams(), nil)
	if err != nil {
		return nil, err
	}
	w.closer = append(w.closer, func() { rw.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	w.closer = append(w.closer, cancel)
	ps, err := pubsub.NewGossipSub(ctx, h, append(netproto.GossipOptions(), rw.Gossip())...)
	if err != nil {
		return nil, err
	}
	ds, err := pebbleds.NewDatastore(filepath.Join(w.dir, name))
	if err != nil {
		return nil, err
	}
	w.closer = append(w.closer, func() { ds.Close() })
	w.direct.addHost(h)
	return &peerNode{key: key, h: h, ps: ps, ds: ds}, nil
}

// sequencer starts a sequencer; byz, if set, makes it fork the log.
func (w *world) sequencer(name string, byz seqservice.Factory) (*peerNode, error) {
	p, err := w.newPeer(name)
	if err != nil {
		return nil, err
	}
	opts := []seqservice.Option{seqservice.WithLogger(w.log)}
	if byz != nil {
		opts = append(opts, seqservice.WithSequencer(byz))
	}
	svc, err := seqservice.New(p.h, p.ps, p.ds, p.key, opts...)
	if err != nil {
		return nil, err
	}
	w.closer = append(w.closer, func() { svc.Close() })
	return p, nil
}

// equivocating is a Byzantine sequencer factory that forks the log at
// seq at: members marked with victim get the other branch.
type equivocating struct {
	mu      sync.Mutex
	victims map[docsync.MemberID]bool
}

func (e *equivocating) mark(m docsync.MemberID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.victims[m] = true
}

func (e *equivocating) factory(at uint64) seqservice.Factory {
	return seqtest.Byzantine(sequencer.Equivocate, at, func(m docsync.MemberID) bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.victims[m]
	})
}

// cloneNode is a clone with its service (and, in clone mode, the device
// link server for its device).
type cloneNode struct {
	*peerNode
	svc  *cloneservice.Service
	user peer.ID
}

// clone starts a clone enrolled as (user, "phone") for device key devKey
// (nil: a clone that serves no device, such as direct mode's admin).
func (w *world) clone(name string, devKey crypto.PubKey) (*cloneNode, error) {
	p, err := w.newPeer(name)
	if err != nil {
		return nil, err
	}
	hpkePriv, hpkePub, err := dht.GenerateHPKEKey()
	if err != nil {
		return nil, err
	}
	devID := p.h.ID()
	if devKey != nil {
		if devID, err = peer.IDFromPublicKey(devKey); err != nil {
			return nil, err
		}
	}
	cert, err := w.direct.enroll(devID, p.h.ID(), hpkePub)
	if err != nil {
		return nil, err
	}
	id, err := cloneservice.IdentityFromKeys(p.key, hpkePriv)
	if err != nil {
		return nil, err
	}
	svc, err := cloneservice.New(p.h, p.ps, p.ds, id, cloneservice.WithLogger(w.log), cloneservice.WithDirectory(w.direct),
		cloneservice.WithInvitePolicy(cloneservice.AcceptAll))
	if err != nil {
		return nil, err
	}
	w.closer = append(w.closer, func() { svc.Close() })
	if devKey != nil {
		srv, err := server.New(p.h, svc, cert, server.WithLogger(w.log))
		if err != nil {
			return nil, err
		}
		w.closer = append(w.closer, func() { srv.Close() })
	}
	return &cloneNode{peerNode: p, svc: svc, user: cert.User}, nil
}

// directory is the documents' directory of signed owner certificates, in
// memory: the experiment measures devices, not lookups (dht/ is the real
// one). Resolve answers from the hosts it was told of.
type directory struct {
	mu    sync.Mutex
	certs map[peer.ID]*dht.OwnerCert // by user
	addrs map[peer.ID]peer.AddrInfo
	hosts map[peer.ID]host.Host
}

func newDirectory() *directory {
	return &directory{certs: map[peer.ID]*dht.OwnerCert{}, addrs: map[peer.ID]peer.AddrInfo{}, hosts: map[peer.ID]host.Host{}}
}

func (d *directory) addHost(h host.Host) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hosts[h.ID()] = h
}

func (d *directory) addAddr(ai peer.AddrInfo) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addrs[ai.ID] = ai
}

// enroll signs, under a fresh user key, the certificate binding the user's
// "phone" (device key dev) to clone and its HPKE key.
func (d *directory) enroll(dev, clone peer.ID, hpkePub []byte) (*dht.OwnerCert, error) {
	userKey, err := dht.GenerateUserKey()
	if err != nil {
		return nil, err
	}
	cert, err := dht.SignOwnerCert(userKey, dht.OwnerCert{Device: "phone", DeviceKey: dev, Clone: clone,
		CloneHPKE: hpkePub, Seq: 1, EOL: time.Now().Add(24 * time.Hour)})
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.certs[cert.User] = cert
	return cert, nil
}

var errNoCert = errors.New("paperbench: no certificate")

// LookupClone implements cloneservice.Directory.
func (d *directory) LookupClone(_ context.Context, user peer.ID, device string) (cloneservice.Clone, error) {
	d.mu.Lock()
	c := d.certs[user]
	d.mu.Unlock()
	if c == nil || c.Device != device {
		return cloneservice.Clone{}, fmt.Errorf("%w for %s/%s", errNoCert, user, device)
	}
	if err := c.Verify(time.Now()); err != nil {
		return cloneservice.Clone{}, err
	}
	return cloneservice.Clone{Peer: c.Clone, HPKE: c.CloneHPKE, Addrs: c.Addrs}, nil
}

// Resolve implements cloneservice.Directory.
func (d *directory) Resolve(_ context.Context, p peer.ID) (peer.AddrInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if h := d.hosts[p]; h != nil {
		return peer.AddrInfo{ID: p, Addrs: h.Addrs()}, nil
	}
	if ai, ok := d.addrs[p]; ok {
		return ai, nil
	}
	return peer.AddrInfo{}, fmt.Errorf("paperbench: unknown peer %s", p)
}
