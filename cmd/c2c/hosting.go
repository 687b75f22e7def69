package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/clone2clone/c2c/clonehost"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// clonesDir, in a provider's data dir, holds the clones it hosts
// (c2c provider --host-clones), one directory each.
const clonesDir = "clones"

// clonesHosting is a provider's hosted clones: the parts they share with
// the provider, then the clones.
type clonesHosting struct {
	dir       string
	capacity  int // the most clones it holds (clonehost.Params.Capacity)
	shared    *node.Shared
	host      *clonehost.Host
	stopAdmin func() error
	stopOnce  sync.Once
	stopErr   error
}

// openHosting opens the datastore the provider and its clones share, with
// one resource budget for the clones' hosts: the provider's system
// limits, per-peer limits for as many hosts as the capacity (capacity, or
// when 0 twice the enrolled clones plus 16, room for enrolling and
// importing while it runs). The clones directory may be empty.
func openHosting(dataDir string, cfg node.Config, capacity int) (*clonesHosting, error) {
	dir := filepath.Join(dataDir, clonesDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--host-clones: %w", err)
	}
	names, err := clonehost.Enrolled(dir)
	if err != nil {
		return nil, fmt.Errorf("--host-clones: %w", err)
	}
	if capacity == 0 {
		capacity = 2*len(names) + 16
	}
	if capacity < len(names) {
		return nil, fmt.Errorf("--clone-capacity %d: %d clones are enrolled in %s", capacity, len(names), dir)
	}
	shared, err := node.OpenShared(filepath.Join(dataDir, node.DatastoreDir), cfg.Params, capacity)
	if err != nil {
		return nil, err
	}
	return &clonesHosting{dir: dir, capacity: capacity, shared: shared}, nil
}

// start runs the clones, joined through the provider n first and then the
// other providers, and serves the admin socket.
func (c *clonesHosting) start(ctx context.Context, g *globals, n *node.Node, cfg node.Config, f *serveFlags) error {
	ip := f.cloneListenIP
	if ip == "" {
		ip = firstIPv4(cfg.ListenAddrs)
	}
	if ip == "" {
		return errors.New("--host-clones: no IPv4 --listen address for the clones; set --clone-listen-ip")
	}
	p := clonehost.DefaultParams()
	switch f.cloneDHT {
	case "client":
	case "server":
		p.DHTServer = true
	default:
		return fmt.Errorf("--clone-dht %q: want client or server", f.cloneDHT)
	}
	if f.cloneConnsHigh < 4 {
		return fmt.Errorf("--clone-conns-high %d: want at least 4", f.cloneConnsHigh)
	}
	p.ConnsHigh, p.ConnsLow = f.cloneConnsHigh, f.cloneConnsHigh/4
	p.TCP = f.cloneTCP
	if f.cloneIdleConn < 0 {
		return fmt.Errorf("--clone-idle-conn %v: want 0 (keep connections) or more", f.cloneIdleConn)
	}
	p.IdleConnTimeout = f.cloneIdleConn
	if f.cloneSleep < 0 {
		return fmt.Errorf("--clone-sleep-after %v: want 0 (never) or more", f.cloneSleep)
	}
	p.SleepAfter = f.cloneSleep
	if f.cloneWakes < 0 {
		return fmt.Errorf("--clone-wakes-per-second %v: want 0 (no bound) or more", f.cloneWakes)
	}
	p.WakesPerSecond = f.cloneWakes
	p.Capacity = c.capacity
	var perClone bool
	switch f.cloneMetrics {
	case "per-clone":
		perClone = true
	case "totals":
	default:
		return fmt.Errorf("--clone-metrics %q: want per-clone or totals", f.cloneMetrics)
	}
	dp := cloneservice.DefaultParams()
	if f.stallAfter > 0 {
		dp.StallAfter = f.stallAfter
	}
	dp.DormantAfter = f.dormantAfter
	boot := []peer.AddrInfo{n.AddrInfo()}
	for _, b := range cfg.Bootstrap {
		if b.ID != n.ID() {
			boot = append(boot, b)
		}
	}
	var attach func(context.Context, *clonehost.Clone) (func() error, error)
	if f.cloneMirror {
		attach = hostedMirror(g, f)
	}
	progress := newNamedProgressBar(g.stderr, "c2c provider")
	h, err := clonehost.Open(ctx, clonehost.Config{Dir: c.dir, Shared: c.shared, Bootstrap: boot, ListenIP: ip,
		Params: p, Logger: g.log, DocOptions: []cloneservice.Option{cloneservice.WithParams(dp)}, Replica: n.Directory(),
		Attach: attach},
		func(done, total int) { progress.step(done, total, "hosted clones started") })
	progress.done()
	if err != nil {
		return err
	}
	c.host = h
	if reg := n.Registerer(); reg != nil {
		if err := reg.Register(h.Collector(perClone)); err != nil {
			return fmt.Errorf("--metrics: hosted clones: %w", err)
		}
	}
	if c.stopAdmin, err = h.ServeAdmin(ctx, filepath.Join(filepath.Dir(c.dir), clonehost.AdminSocket)); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "hosting %d clones (%d stopped); admin: c2c provider clones --data %s\n",
		len(h.Clones()), len(h.Info())-len(h.Clones()), filepath.Dir(c.dir))
	return nil
}

// hostedMirror runs a hosted clone's mirror as c2c clone runs its own,
// on the clone's prefix of the shared datastore, with what the process
// shares shared: downloads and blobs are scanned by the hosting
// provider's one engine and verdict cache (the clone's first bootstrap
// peer), the built-in engine is one per process. Per clone: one download
// at a time, no metrics, and mirror.json written when the mirror changes,
// not every second.
func hostedMirror(g *globals, f *serveFlags) func(context.Context, *clonehost.Clone) (func() error, error) {
	dlp := f.downloadParams()
	dlp.Parallel = 1
	return func(ctx context.Context, c *clonehost.Clone) (func() error, error) {
		m, err := openCloneMirror(ctx, g.log.With("clone", c.Name), c.Node, c.Dir, mirrorConfig{downloads: dlp})
		if err != nil {
			return nil, err
		}
		return m.stop, nil
	}
}

// stopClones stops the admin socket and every clone; the shared parts
// stay open for the provider node, closed after it.
func (c *clonesHosting) stopClones() error {
	c.stopOnce.Do(func() {
		if c.stopAdmin != nil {
			c.stopErr = c.stopAdmin()
		}
		if c.host != nil {
			c.stopErr = errors.Join(c.stopErr, c.host.Close())
		}
	})
	return c.stopErr
}

func (c *clonesHosting) close() { _ = c.stopClones(); _ = c.shared.Close() }

// firstIPv4 is the IPv4 address of the first address in addrs that has one.
func firstIPv4(addrs []ma.Multiaddr) string {
	for _, a := range addrs {
		if ip, err := a.ValueForProtocol(ma.P_IP4); err == nil {
			return ip
		}
	}
	return ""
}

// quicAddr is the first QUIC address of addrs (hosted clones dial QUIC
// only), or the first address if none is.
func quicAddr(addrs []string) string {
	for _, a := range addrs {
		if strings.Contains(a, "/quic-v1") {
			return a
		}
	}
	if len(addrs) == 0 {
		return ""
	}
	return addrs[0]
}
