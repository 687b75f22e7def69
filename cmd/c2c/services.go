package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clone2clone/c2c/internal/keystore"

	"github.com/clone2clone/c2c/control"
	deviceserver "github.com/clone2clone/c2c/device/server"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p/core/peer"
)

// roleServices starts what runs on top of a node for its role: the
// sequencer service on a sequencer; the document service and the control
// socket on a clone. It returns a function that stops them (the node's
// Close also stops the services it started).
func roleServices(ctx context.Context, g *globals, n *node.Node, dataDir string, byz *byzantineFlags) (func() error, error) {
	switch n.Role() {
	case node.RoleSequencer:
		var opts []seqservice.Option
		if byz != nil && byz.behaviour != "" {
			f, err := byz.factory()
			if err != nil {
				return nil, err
			}
			g.log.Warn("TEST TOOL: this sequencer misbehaves on purpose", "behaviour", byz.behaviour, "at", byz.at)
			opts = append(opts, seqservice.WithSequencer(f))
		}
		if _, err := n.StartSequencer(opts...); err != nil {
			return nil, err
		}
		return func() error { return nil }, nil
	case node.RoleClone:
		svc, err := n.StartDocs()
		if err != nil {
			return nil, err
		}
		kad := n.DHT()
		srv := control.NewServer(svc, n.ID(), control.WithLogger(g.log),
			control.WithResolver(func(ctx context.Context, id peer.ID) (peer.AddrInfo, error) {
				return kad.FindPeer(ctx, id)
			}))
		if err := srv.Listen(filepath.Join(dataDir, control.SocketFile)); err != nil {
			return nil, err
		}
		fmt.Fprintf(g.stdout, "control socket: %s\n", srv.Path())
		// The device link: the enrolled phone connects here (and only here).
		linkOpts := []deviceserver.Option{deviceserver.WithLogger(g.log)}
		if reg := n.Registerer(); reg != nil {
			linkOpts = append(linkOpts, deviceserver.WithMetrics(reg))
		}
		link, err := deviceserver.New(n.Host(), svc, n.OwnerCert(), linkOpts...)
		if err != nil {
			_ = srv.Close()
			return nil, fmt.Errorf("device link: %w", err)
		}
		// The mirror: the phone's sync client connects here too.
		stopMirror, err := startMirror(ctx, g, n, dataDir)
		if err != nil {
			_ = link.Close()
			_ = srv.Close()
			return nil, err
		}
		return func() error { return errors.Join(stopMirror(), link.Close(), srv.Close()) }, nil
	}
	return func() error { return nil }, nil
}

// byzantineFlags configure a deliberately misbehaving sequencer (a test
// tool for the fork alarm).
type byzantineFlags struct {
	behaviour string
	at        uint64
}

func byzantineNames() string {
	names := make([]string, 0, len(sequencer.Behaviours))
	for _, b := range sequencer.Behaviours {
		names = append(names, b.String())
	}
	return strings.Join(names, ", ")
}

// factory builds the plugged sequencer. For equivocate the victims (the
// second branch of the fork) are the members whose key's first byte is odd.
func (f *byzantineFlags) factory() (seqservice.NodeFactory, error) {
	for _, b := range sequencer.Behaviours {
		if b.String() == f.behaviour {
			return func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Node {
				s := sequencer.NewByzantine(doc, key, b, f.at)
				s.Victims = oddMember
				return s
			}, nil
		}
	}
	return nil, fmt.Errorf("--byzantine %q: want one of %s", f.behaviour, byzantineNames())
}

func oddMember(m docsync.MemberID) bool { return m[0]%2 == 1 }

// serveRole runs a long-lived node of role until ctx is done, with the
// services of its role (roleServices) on top.
func serveRole(ctx context.Context, g *globals, role node.Role, f *serveFlags, byz *byzantineFlags) error {
	dataDir, err := g.dataDir(string(role))
	if err != nil {
		return err
	}
	cfg := node.DefaultConfig(role, dataDir)
	cfg.Params.LimitLoopback = f.limitLoopback
	if cfg.ListenAddrs, err = parseListen(f.listen); err != nil {
		return err
	}
	if cfg.Bootstrap, err = parseBootstrap(f.bootstrap); err != nil {
		return err
	}
	if role == node.RoleClone {
		if len(cfg.Bootstrap) == 0 {
			return errors.New("clone needs --bootstrap (or C2C_BOOTSTRAP): the /p2p multiaddr of at least one provider")
		}
		if _, err := node.ReadOwnerCert(dataDir); errors.Is(err, node.ErrNoOwnerCert) {
			return fmt.Errorf("clone in %s is not enrolled: no %s there.\nEnroll it first with the user's key:\n  c2c enroll --key USER.key --device NAME --clone-data %s",
				dataDir, node.OwnerCertFile, dataDir)
		}
	}
	// A ready file from a previous run must not fool scripts.
	if err := os.Remove(filepath.Join(dataDir, readyFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := []node.Option{node.WithLogger(g.log)}
	reg, err := g.metricsRegistry(runCtx)
	if err != nil {
		return err
	}
	if reg != nil {
		opts = append(opts, node.WithMetrics(reg))
	}
	n, err := node.New(ctx, cfg, opts...)
	if err != nil {
		return err
	}
	defer n.Close()
	stopServices, err := roleServices(runCtx, g, n, dataDir, byz)
	if err != nil {
		return err
	}
	defer stopServices()

	var lines []string
	for _, a := range n.P2PAddrs() {
		lines = append(lines, a.String())
	}
	fmt.Fprintf(g.stdout, "peer ID: %s\n", n.ID())
	for _, l := range lines {
		fmt.Fprintf(g.stdout, "listening on %s\n", l)
	}
	if err := keystore.WriteFile(filepath.Join(dataDir, addrsFile), []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		return err
	}

	ready := n.Joined()
	if role == node.RoleClone {
		ready = n.Published()
	}
	select {
	case <-ctx.Done():
	case <-ready:
		if err := keystore.WriteFile(filepath.Join(dataDir, readyFile), []byte(n.ID().String()+"\n")); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "ready\n")
		<-ctx.Done()
	}
	g.log.Info("shutting down")
	if err := stopServices(); err != nil {
		return err
	}
	if err := n.Close(); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "stopped\n")
	return nil
}
