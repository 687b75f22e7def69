package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	"github.com/clone2clone/c2c/replication/scanwire"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// demoNet is a c2c network on loopback in one process, as the demo and
// the latency bench start it: providers, then enrolled clones (two
// devices per user) that join through them and publish their owner
// certificates. Every node is a real node (TCP and QUIC, pebble).
type demoNet struct {
	nodes   []*node.Node // every node started, closed in reverse order
	boot    []peer.AddrInfo
	clones  []demoClone
	devKeys []string // the device key file of each clone's device
	users   map[int]crypto.PrivKey
	// scanLog, when set before startDemoNet, gives every provider its
	// process's scanner (as c2c provider runs it), logging there.
	scanLog  *slog.Logger
	scanners []*scanwire.Provider
	// hosted, when set before startDemoNet, has the clones share one
	// pebble datastore and one resource budget, as the clones a provider
	// hosts do (c2c provider --host-clones): the WAL then commits the
	// entry that every clone stores at about the same instant with one
	// fsync for all of them. shared is that datastore.
	hosted bool
	shared *node.Shared
}

// startDemoNet starts providers and clones under base with opts; it
// returns once every clone published its record. On error the nodes
// started so far are in n.nodes for the caller to close.
func startDemoNet(ctx context.Context, n *demoNet, base string, providers, clones int, opts []node.Option) error {
	for i := range providers {
		cfg := node.DefaultConfig(node.RoleProvider, filepath.Join(base, fmt.Sprintf("provider-%d", i)))
		cfg.ListenAddrs = node.LoopbackListenAddrs()
		cfg.Bootstrap = slices.Clone(n.boot)
		nd, err := node.New(ctx, cfg, opts...)
		if err != nil {
			return err
		}
		n.nodes = append(n.nodes, nd)
		n.boot = append(n.boot, nd.AddrInfo())
		if n.scanLog != nil {
			sc, err := scanwire.NewProvider(ctx, nd.Host(), nd.Datastore(), scanwire.WithLogger(n.scanLog))
			if err != nil {
				return err
			}
			n.scanners = append(n.scanners, sc)
		}
	}
	if n.hosted {
		shared, err := node.OpenShared(filepath.Join(base, "clones-"+node.DatastoreDir),
			node.DefaultConfig(node.RoleProvider, "").Params, clones)
		if err != nil {
			return err
		}
		n.shared = shared
	}
	n.clones = make([]demoClone, clones)
	n.devKeys = make([]string, clones)
	n.users = map[int]crypto.PrivKey{}
	for i := range n.clones {
		u := i / 2
		if n.users[u] == nil {
			k, err := dht.GenerateUserKey()
			if err != nil {
				return err
			}
			n.users[u] = k
		}
		keyPath := filepath.Join(base, "users", fmt.Sprintf("user-%d.key", u))
		if err := keystore.WritePrivKey(keyPath, n.users[u]); err != nil {
			return err
		}
		device := []string{"phone", "laptop"}[i%2]
		dir := filepath.Join(base, fmt.Sprintf("clone-%d", i))
		n.devKeys[i] = filepath.Join(base, "users", fmt.Sprintf("user-%d-devices", u), device+".key")
		cert, _, err := enroll(n.users[u], keyPath, device, n.devKeys[i], dir, time.Now(), 24*time.Hour)
		if err != nil {
			return err
		}
		cfg := node.DefaultConfig(node.RoleClone, dir)
		cfg.ListenAddrs = node.LoopbackListenAddrs()
		cfg.Bootstrap = n.boot
		cloneOpts := opts
		if n.shared != nil {
			cloneOpts = append(slices.Clip(opts), node.WithSharedDatastore(n.shared, fmt.Sprintf("/clones/%d", i)), node.WithSharedLimits(n.shared))
		}
		nd, err := node.New(ctx, cfg, cloneOpts...)
		if err != nil {
			return err
		}
		n.nodes = append(n.nodes, nd)
		n.clones[i] = demoClone{user: cert.User, device: device, node: nd}
	}
	for _, c := range n.clones {
		select {
		case <-c.node.Published():
		case <-ctx.Done():
			return fmt.Errorf("clone %s did not publish its record: %w", c.node.ID(), ctx.Err())
		}
	}
	return nil
}

// close closes every node, in reverse order, and returns the first error.
func (n *demoNet) close() error {
	var first error
	for i := len(n.nodes) - 1; i >= 0; i-- {
		if err := n.nodes[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	n.nodes = nil
	if n.shared != nil {
		if err := n.shared.Close(); err != nil && first == nil {
			first = err
		}
		n.shared = nil
	}
	return first
}

// contactsAll makes every clone accept invitations from every user of
// the network (its contacts file, as `c2c contact add` writes it).
func (n *demoNet) contactsAll(base string) error {
	var everyone []peer.ID
	for _, c := range n.clones {
		everyone = append(everyone, c.user)
	}
	for i := range n.clones {
		contacts := node.OpenContacts(filepath.Join(base, fmt.Sprintf("clone-%d", i), node.ContactsFile))
		if err := contacts.Add(everyone...); err != nil {
			return err
		}
	}
	return nil
}
