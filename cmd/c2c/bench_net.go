package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/clone2clone/c2c/control"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// benchEnv is what every bench network shares: the binary, the bounds of
// its waits, and where progress lines go.
type benchEnv struct {
	bin      string
	progress io.Writer
	ready    time.Duration // a process comes up (writes its ready file)
	honest   time.Duration // an honest edit reaches the other clone
	logLevel string        // the long-running processes' --log-level
}

func (e *benchEnv) say(format string, args ...any) {
	fmt.Fprintf(e.progress, "c2c bench: "+format+"\n", args...)
}

// benchNet is a small c2c network of separate processes on 127.0.0.1, set
// up with the CLI as a user would: a provider, a sequencer, clone A of
// user A with a device, clone B of user B, and a document created on A
// with B invited as a writer.
type benchNet struct {
	env    *benchEnv
	dir    string
	logDir string
	cmdLog *os.File // the short-lived commands' lines and output

	prov, seq, cloneA, cloneB *child
	seqAddr                   string        // the sequencer's first /p2p multiaddr
	seqInfo, aInfo            peer.AddrInfo // what an attacker dials
	userA, userB              string
	doc                       string
	devDir                    string // the device of clone A
	a, b                      *control.Client
	honestEdits               int
}

// benchLoopback is where every bench process listens.
const benchLoopback = "/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1"

// startBenchNet sets the network up in dir; on failure it stops what it
// started.
func startBenchNet(ctx context.Context, env *benchEnv, dir string, seqArgs ...string) (_ *benchNet, err error) {
	n := &benchNet{env: env, dir: dir, logDir: filepath.Join(dir, "logs"), devDir: filepath.Join(dir, "device")}
	if err := os.MkdirAll(n.logDir, 0o700); err != nil {
		return nil, err
	}
	if n.cmdLog, err = os.OpenFile(filepath.Join(n.logDir, "commands.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	start := time.Now()
	for _, u := range []struct {
		id  *string
		dir string
	}{{&n.userA, "user-a"}, {&n.userB, "user-b"}} {
		out, err := n.run(ctx, "keygen", "--data", filepath.Join(dir, u.dir))
		if err != nil {
			return nil, err
		}
		if *u.id = field(out, "user ID"); *u.id == "" {
			return nil, fmt.Errorf("keygen printed no user ID: %q", out)
		}
	}
	if n.prov, err = n.serve(ctx, "provider", "provider"); err != nil {
		return nil, err
	}
	boot, err := n.prov.waitFile(ctx, addrsFile, env.ready)
	if err != nil {
		return nil, err
	}
	boot = strings.Join(strings.Fields(boot), ",")
	if n.seq, err = n.serve(ctx, "sequencer", "sequencer", append([]string{"--bootstrap", boot}, seqArgs...)...); err != nil {
		return nil, err
	}
	if n.seqInfo, err = addrInfoOf(ctx, n.seq, env.ready); err != nil {
		return nil, err
	}
	n.seqAddr = fmt.Sprintf("%s/p2p/%s", n.seqInfo.Addrs[0], n.seqInfo.ID)
	for _, c := range []struct {
		proc       **child
		name, user string
		device     string
	}{{&n.cloneA, "clone-a", "user-a", "phone"}, {&n.cloneB, "clone-b", "user-b", "laptop"}} {
		if _, err := n.run(ctx, "enroll", "--key", filepath.Join(dir, c.user, "user.key"), "--device", c.device,
			"--clone-data", filepath.Join(dir, c.name)); err != nil {
			return nil, err
		}
		if *c.proc, err = n.serve(ctx, c.name, "clone", "--bootstrap", boot); err != nil {
			return nil, err
		}
	}
	for _, c := range []*child{n.cloneA, n.cloneB} {
		if _, err := c.waitFile(ctx, readyFile, env.ready); err != nil {
			return nil, err
		}
	}
	if n.aInfo, err = addrInfoOf(ctx, n.cloneA, env.ready); err != nil {
		return nil, err
	}
	n.a = control.NewClient(filepath.Join(n.cloneA.dir, control.SocketFile))
	n.b = control.NewClient(filepath.Join(n.cloneB.dir, control.SocketFile))
	env.say("  provider, sequencer and clones A and B up after %v", time.Since(start).Round(time.Millisecond))

	out, err := n.run(ctx, "doc", "create", "--data", n.cloneA.dir, "--sequencer", n.seqAddr)
	if err != nil {
		return nil, err
	}
	n.doc = strings.TrimSpace(out)
	// B's owner accepts A's invitations: A is in B's contacts.
	if _, err := n.run(ctx, "contact", "add", "--data", n.cloneB.dir, n.userA); err != nil {
		return nil, err
	}
	if _, err := n.run(ctx, "doc", "invite", "--data", n.cloneA.dir, n.doc, n.userB, "laptop", "--role", "writer"); err != nil {
		return nil, err
	}
	if _, err := pollFor(ctx, env.honest, "clone B holds the document's key", func() (struct{}, bool, error) {
		in, err := n.show(ctx, n.b)
		return struct{}{}, err == nil && in.Role == "writer" && in.Seq >= 2 && in.Applied == in.Seq, nil
	}); err != nil {
		return nil, err
	}
	cloneAddr := fmt.Sprintf("%s/p2p/%s", n.aInfo.Addrs[0], n.aInfo.ID)
	if _, err := n.run(ctx, "device", "connect", "--data", n.devDir, "--clone", cloneAddr, "--user", n.userA,
		"--name", "phone", "--key", filepath.Join(dir, "user-a", "devices", "phone.key")); err != nil {
		return nil, err
	}
	if _, err := n.honestEdit(ctx); err != nil {
		return nil, fmt.Errorf("before any attack: %w", err)
	}
	env.say("  document %s shared A -> B, device edit delivered; network ready after %v", n.doc[:12], time.Since(start).Round(time.Millisecond))
	return n, nil
}

// serve starts a long-running role in dir/name.
func (n *benchNet) serve(ctx context.Context, name, role string, args ...string) (*child, error) {
	dir := filepath.Join(n.dir, name)
	all := append([]string{role, "--data", dir, "--listen", benchLoopback, "--log-level", n.env.logLevel}, args...)
	c, err := startChild(n.env.bin, name, dir, n.logDir, all...)
	if err != nil {
		return nil, err
	}
	if _, err := c.waitFile(ctx, readyFile, n.env.ready); err != nil && role != "clone" {
		return c, err
	}
	return c, nil
}

// addrInfoOf reads a process's addrs file.
func addrInfoOf(ctx context.Context, c *child, limit time.Duration) (peer.AddrInfo, error) {
	s, err := c.waitFile(ctx, addrsFile, limit)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	var addrs []ma.Multiaddr
	for _, l := range strings.Fields(s) {
		a, err := ma.NewMultiaddr(l)
		if err != nil {
			return peer.AddrInfo{}, fmt.Errorf("%s/%s: %w", c.dir, addrsFile, err)
		}
		addrs = append(addrs, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(addrs...)
	if err != nil || len(infos) != 1 {
		return peer.AddrInfo{}, fmt.Errorf("%s/%s: want the addresses of one peer: %v", c.dir, addrsFile, err)
	}
	return infos[0], nil
}

// run runs a short-lived c2c command, bounded by the honest-traffic bound.
func (n *benchNet) run(ctx context.Context, args ...string) (string, error) {
	return runCommand(ctx, n.env.bin, n.cmdLog, n.env.honest, args...)
}

// show reads a document's state on a clone, bounded by 5 s a call.
func (n *benchNet) show(ctx context.Context, c *control.Client) (control.DocInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.Show(ctx, n.doc)
}

// honestEdit types a token on the device of clone A and waits until clone
// B's text has it, all within the honest-traffic bound; it returns how long
// that took. A device command that fails (the clone too busy to take the
// connection) is tried again, once a second, within the bound.
func (n *benchNet) honestEdit(ctx context.Context) (time.Duration, error) {
	n.honestEdits++
	tok := fmt.Sprintf("<honest %d>", n.honestEdits)
	start := time.Now()
	deadline := start.Add(n.env.honest)
	for attempt := 1; ; attempt++ {
		_, err := runCommand(ctx, n.env.bin, n.cmdLog, time.Until(deadline), "device", "type", "--data", n.devDir, n.doc, tok)
		if err == nil {
			break
		}
		if time.Until(deadline) < time.Second || ctx.Err() != nil {
			return time.Since(start), fmt.Errorf("no device edit within %v (%d tries): %w", n.env.honest, attempt, err)
		}
		select { // pacing between tries, not synchronization
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if _, err := n.waitDelivered(ctx, []string{tok}, time.Until(deadline)); err != nil {
		return time.Since(start), err
	}
	return time.Since(start), nil
}

// waitDelivered polls clone B until its text holds every token, for up to
// limit; it returns how many it last saw.
func (n *benchNet) waitDelivered(ctx context.Context, toks []string, limit time.Duration) (int, error) {
	seen := 0
	_, err := pollFor(ctx, limit, fmt.Sprintf("%d edit(s) reach clone B", len(toks)), func() (struct{}, bool, error) {
		in, err := n.show(ctx, n.b)
		if err != nil {
			return struct{}{}, false, nil
		}
		seen = 0
		for _, t := range toks {
			if strings.Contains(in.Text, t) {
				seen++
			}
		}
		return struct{}{}, seen == len(toks), nil
	})
	if err != nil {
		return seen, fmt.Errorf("%w (%d of %d arrived)", err, seen, len(toks))
	}
	return seen, nil
}

// restart kills c with SIGKILL, starts it again on its data dir and waits
// until it is ready; it returns how long it took to come back.
func (n *benchNet) restart(ctx context.Context, c *child) (time.Duration, error) {
	c.kill()
	start := time.Now()
	if err := c.restart(); err != nil {
		return 0, err
	}
	_, err := c.waitFile(ctx, readyFile, n.env.ready)
	return time.Since(start), err
}

// close stops every process (SIGTERM, then SIGKILL after 20 s).
func (n *benchNet) close() {
	var wg sync.WaitGroup
	for _, c := range []*child{n.cloneA, n.cloneB, n.seq, n.prov} {
		if c != nil {
			wg.Go(func() { c.stop(20 * time.Second) })
		}
	}
	wg.Wait()
	for _, c := range []*control.Client{n.a, n.b} {
		if c != nil {
			c.Close()
		}
	}
	if n.cmdLog != nil {
		n.cmdLog.Close()
	}
}
