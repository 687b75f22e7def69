package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/clone2clone/c2c/internal/cli"
	"github.com/clone2clone/c2c/internal/keystore"

	"github.com/clone2clone/c2c/control"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/node"
	"github.com/clone2clone/c2c/replication/scanwire"
)

// roleServices starts what runs on top of a node for its role: the
// sequencer service on a sequencer; on a clone its services
// (node.StartCloneServices: documents, device link, control socket; the
// node's Close stops them) and the mirror, which the returned function
// stops; on a provider the process's one scanner (replication/scanwire).
func roleServices(ctx context.Context, g *globals, n *node.Node, dataDir string, f *serveFlags, seqOpts []seqservice.Option, docOpts []cloneservice.Option) (func() error, error) {
	none := func() error { return nil }
	switch n.Role() {
	case node.RoleSequencer:
		_, err := n.StartSequencer(seqOpts...)
		return none, err
	case node.RoleProvider:
		p, err := scanwire.NewProvider(ctx, n.Host(), n.Datastore(), scanwire.WithLogger(g.log))
		if err != nil {
			return none, fmt.Errorf("scanner: %w", err)
		}
		stopSpool := watchSigsSpool(ctx, dataDir, p, g.log) // c2c provider sigs add while running
		return func() error { _ = stopSpool(); return p.Close() }, nil
	case node.RoleClone:
		cs, err := n.StartCloneServices(filepath.Join(dataDir, control.SocketFile), docOpts...)
		if err != nil {
			return none, err
		}
		fmt.Fprintf(g.stdout, "control socket: %s\n", cs.Control.Path())
		// The mirror: the phone's sync client connects here too.
		return startMirror(ctx, g, n, dataDir, f.downloadParams())
	}
	return none, nil
}

// serveRole runs a long-lived node of role until ctx is done, with the
// services of its role (roleServices) on top.
func serveRole(ctx context.Context, g *globals, role node.Role, f *serveFlags, seqOpts ...seqservice.Option) error {
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
	var hosting *clonesHosting
	if role == node.RoleProvider && f.hostClones {
		// The provider and its hosted clones share one datastore (the
		// provider's, at its root as before) and one resource budget.
		if hosting, err = openHosting(dataDir, cfg, f.cloneCapacity); err != nil {
			return err
		}
		defer hosting.close()
		opts = append(opts, node.WithSharedDatastore(hosting.shared, ""))
	}
	applyMemoryLimit(f.memoryLimit)
	if f.pprof != "" {
		addr, err := cli.ServePprof(runCtx, f.pprof, g.log)
		if err != nil {
			return err
		}
		g.log.Info("serving pprof", "url", "http://"+addr.String()+"/debug/pprof/")
	}
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
	var docOpts []cloneservice.Option
	if role == node.RoleClone {
		p := cloneservice.DefaultParams()
		if f.stallAfter > 0 {
			p.StallAfter = f.stallAfter
		}
		p.SnapshotEvery, p.KeepHistory = f.snapshotEvery, f.keepHistory
		p.DormantAfter = f.dormantAfter
		docOpts = append(docOpts, cloneservice.WithParams(p))
		if f.standby != "" {
			ai, err := parseStandby(f.standby)
			if err != nil {
				return err
			}
			docOpts = append(docOpts, cloneservice.WithStandby(ai))
		}
	}
	stop, err := roleServices(runCtx, g, n, dataDir, f, seqOpts, docOpts)
	if err != nil {
		return err
	}
	stopServices := sync.OnceValue(stop)
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
	if hosting != nil {
		// After the addrs file: other providers can join this one while
		// its clones start.
		if err := hosting.start(runCtx, g, n, cfg, f); err != nil {
			return err
		}
		defer hosting.stopClones()
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
	if hosting != nil {
		if err := hosting.stopClones(); err != nil {
			return err
		}
	}
	if err := stopServices(); err != nil {
		return err
	}
	if err := n.Close(); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "stopped\n")
	return nil
}
