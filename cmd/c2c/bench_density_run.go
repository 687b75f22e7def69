package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clone2clone/c2c/clonehost"
	"github.com/clone2clone/c2c/control"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/internal/procstat"
	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p/core/peer"
)

// densityClone is one enrolled clone of the density bench.
type densityClone struct {
	prov    int    // the provider process hosting it
	dir     string // its data dir, <provider>/clones/NAME
	user    peer.ID
	peer    peer.ID
	devKey  string // its device's key file
	devDir  string // its device's data dir
	control *control.Client
}

type densityRun struct {
	name   string // the bench, for progress lines
	g      *globals
	f      *densityFlags
	bin    string
	base   string
	logDir string
	cmdLog *os.File
	clones []*densityClone
	provs  []*child
	admins []*clonehost.AdminClient
	seq    *child
	doc    string // the sample's shared document, once edit made it
	res    *densityResult
}

func (r *densityRun) say(format string, args ...any) {
	fmt.Fprintf(r.g.stderr, r.name+": "+format+"\n", args...)
}

func runDensityBench(ctx context.Context, g *globals, f *densityFlags) (*densityResult, error) {
	if f.devices < 0 {
		f.devices = min(100, f.clones)
	}
	switch {
	case f.clones < 2 || f.providers < 1 || f.providers > f.clones:
		return nil, errors.New("need --clones >= 2 and 1 <= --providers <= --clones")
	case f.devices == 1 || f.devices > f.clones || f.devices > 256:
		return nil, errors.New("--devices: 0, or 2 to min(--clones, 256) (a document holds at most 256 members)")
	case f.idle <= 0:
		return nil, errors.New("--idle must be positive")
	case f.kill && (f.devices < 2 || f.killEditors < 1 || f.killEditors > f.devices || f.killAfter < 1):
		return nil, errors.New("--kill: needs --devices >= 2, 1 <= --kill-editors <= --devices (the editors are the sample's first devices) and --kill-after >= 1")
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	r, err := newDensityRun(g, f, "density")
	if err != nil {
		return nil, err
	}
	defer r.close()
	for _, step := range []func(context.Context) error{r.enroll, r.start, r.lookups, r.measureIdle, r.edit, r.measureAfterEdit, r.killPhase} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return r.res, nil
}

// close stops every process and removes the directory unless --keep.
func (r *densityRun) close() {
	var wg sync.WaitGroup
	for _, c := range append(slices.Clone(r.provs), r.seq) {
		if c != nil {
			wg.Go(func() { c.stop(time.Minute) })
		}
	}
	wg.Wait()
	for _, a := range r.admins {
		a.Close()
	}
	for _, c := range r.clones {
		if c.control != nil {
			c.control.Close()
		}
	}
	r.cmdLog.Close()
	if r.f.keep {
		r.say("kept %s", r.base)
		return
	}
	os.RemoveAll(r.base)
}

// childLogLevel is --log-level if given, else warn: the providers' logs
// go to their files in the bench's directory.
func (r *densityRun) childLogLevel() string {
	if r.g.logLevelSet {
		return r.g.logLevel
	}
	return "warn"
}

func (r *densityRun) provDir(i int) string {
	return filepath.Join(r.base, fmt.Sprintf("provider-%d", i))
}

// enroll makes a user, a device key and an enrolled clone for every k, as
// c2c keygen and c2c enroll would, in this process (2,000 processes
// would only measure process start-up).
func (r *densityRun) enroll(ctx context.Context) error {
	start := time.Now()
	bar := newNamedProgressBar(r.g.stderr, r.name)
	r.clones = make([]*densityClone, r.f.clones)
	var next, done atomic.Int64
	var mu sync.Mutex
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= r.f.clones || ctx.Err() != nil {
					return
				}
				c, err := r.enrollOne(k)
				if err != nil {
					errs[w] = err
					return
				}
				r.clones[k] = c
				mu.Lock()
				bar.step(int(done.Add(1)), r.f.clones, "clones enrolled")
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	bar.done()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return err
	}
	r.say("%d clones enrolled in %v", r.f.clones, time.Since(start).Round(time.Millisecond))
	return nil
}

func (r *densityRun) enrollOne(k int) (*densityClone, error) {
	users := filepath.Join(r.base, "users")
	key, err := dht.GenerateUserKey()
	if err != nil {
		return nil, err
	}
	keyPath := filepath.Join(users, fmt.Sprintf("u%05d.key", k))
	if err := keystore.WritePrivKey(keyPath, key); err != nil {
		return nil, err
	}
	c := &densityClone{prov: k % r.f.providers, devKey: filepath.Join(users, fmt.Sprintf("u%05d.phone.key", k)),
		devDir: filepath.Join(r.base, "devices", fmt.Sprintf("d%05d", k))}
	c.dir = filepath.Join(r.provDir(c.prov), clonesDir, fmt.Sprintf("c%05d", k))
	cert, _, err := enroll(key, keyPath, "phone", c.devKey, c.dir, time.Now(), 30*24*time.Hour)
	if err != nil {
		return nil, err
	}
	c.user, c.peer = cert.User, cert.Clone
	return c, nil
}

// start runs the providers (provider 0 first: the others join through
// it) and the sequencer, and waits until every clone has published.
func (r *densityRun) start(ctx context.Context) error {
	t0 := time.Now()
	// Every provider lists every other, as an operator configures them
	// (a provider pulls and serves replicas of the providers it knows):
	// identities made and ports picked before any starts.
	listen, addrs, err := r.providerAddrs()
	if err != nil {
		return err
	}
	for i := range r.f.providers {
		dir := r.provDir(i)
		args := []string{"provider", "--host-clones", "--data", dir, "--listen", listen[i], "--log-level", r.childLogLevel(),
			"--clone-dht", r.f.cloneDHT, fmt.Sprintf("--clone-mirror=%v", r.f.cloneMirror), fmt.Sprintf("--clone-tcp=%v", r.f.cloneTCP)}
		if r.f.pprofPort > 0 {
			args = append(args, "--pprof", fmt.Sprintf("127.0.0.1:%d", r.f.pprofPort+i))
		}
		if r.f.connsHigh > 0 {
			args = append(args, "--clone-conns-high", fmt.Sprint(r.f.connsHigh))
		}
		args = append(args, "--clone-idle-conn", r.f.idleConn.String(), "--clone-sleep-after", r.f.sleepAfter.String())
		if l := r.memoryLimit(i); l > 0 {
			args = append(args, "--memory-limit", fmt.Sprint(l))
		}
		var others []string
		for j, a := range addrs {
			if j != i {
				others = append(others, a...)
			}
		}
		if len(others) > 0 {
			args = append(args, "--bootstrap", strings.Join(others, ","))
		}
		c, err := startChild(r.bin, fmt.Sprintf("provider-%d", i), dir, r.logDir, args...)
		if err != nil {
			return err
		}
		r.provs = append(r.provs, c)
		r.admins = append(r.admins, clonehost.NewAdminClient(filepath.Join(dir, clonehost.AdminSocket)))
	}
	for _, c := range r.provs {
		if _, err := c.waitFile(ctx, addrsFile, 2*time.Minute); err != nil {
			return err
		}
	}
	boot := strings.Join(addrs[0], ",")
	seqDir := filepath.Join(r.base, "sequencer")
	seq, err := startChild(r.bin, "sequencer", seqDir, r.logDir, "sequencer", "--data", seqDir, "--listen", benchLoopback,
		"--log-level", "warn", "--bootstrap", boot)
	if err != nil {
		return err
	}
	r.seq = seq
	bar := newNamedProgressBar(r.g.stderr, r.name)
	limit := time.Duration(r.f.clones)*100*time.Millisecond + 2*time.Minute
	if r.f.startTimeout > 0 {
		limit = r.f.startTimeout
	}
	_, err = pollEvery(ctx, time.Second, limit, "every clone publishes its record", func() (struct{}, bool, error) {
		n, err := r.published(ctx)
		if err != nil {
			return struct{}{}, false, err
		}
		bar.step(n, r.f.clones, "clones published")
		return struct{}{}, n == r.f.clones, nil
	})
	bar.done()
	if err != nil {
		return err
	}
	r.res.StartS = time.Since(t0).Seconds()
	if _, err := seq.waitFile(ctx, readyFile, time.Minute); err != nil {
		return err
	}
	r.say("%d providers up, %d clones published after %.1f s", r.f.providers, r.f.clones, r.res.StartS)
	return nil
}

// memoryLimit is provider i's --memory-limit: --provider-memory-limit's
// value i, or its last (0: none given).
func (r *densityRun) memoryLimit(i int) int64 {
	l := r.f.memoryLimits
	if len(l) == 0 {
		return 0
	}
	return l[min(i, len(l)-1)]
}

// providerAddrs makes each provider's identity and picks its loopback
// ports: its --listen value and its /p2p multiaddrs.
func (r *densityRun) providerAddrs() (listen []string, addrs [][]string, err error) {
	for i := range r.f.providers {
		dir := r.provDir(i)
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, nil, err
		}
		key, _, err := keystore.LoadOrCreatePrivKey(filepath.Join(dir, node.IdentityFile))
		if err != nil {
			return nil, nil, err
		}
		id, err := peer.IDFromPrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		tcp, udp, err := freeLoopbackPorts()
		if err != nil {
			return nil, nil, err
		}
		t := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", tcp)
		u := fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", udp)
		listen = append(listen, t+","+u)
		addrs = append(addrs, []string{u + "/p2p/" + id.String(), t + "/p2p/" + id.String()})
	}
	return listen, addrs, nil
}

// freeLoopbackPorts returns a TCP and a UDP port of 127.0.0.1 that were
// free a moment ago.
func freeLoopbackPorts() (int, int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer u.Close()
	return l.Addr().(*net.TCPAddr).Port, u.LocalAddr().(*net.UDPAddr).Port, nil
}

// published counts the published clones over every provider's admin
// socket; a provider not answering yet counts none, one that exited fails.
func (r *densityRun) published(ctx context.Context) (int, error) {
	n := 0
	for i, a := range r.admins {
		if gone, err := r.provs[i].exited(); gone {
			return 0, fmt.Errorf("%s exited (%v); its log: %s%s", r.provs[i].name, err, r.provs[i].log, r.provs[i].lastLines(2))
		}
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		infos, err := a.Clones(qctx)
		cancel()
		if err != nil {
			continue
		}
		for _, in := range infos {
			if in.Published {
				n++
			}
		}
	}
	return n, nil
}

// lookups has clone k+1 look clone k up, for every k, 8 at a time.
func (r *densityRun) lookups(ctx context.Context) error {
	targets := make([]int, r.f.clones)
	for k := range targets {
		targets[k] = k
	}
	found, lat, firstErr := r.lookUp(ctx, targets, "lookups")
	r.res.Found = found
	r.res.LookupP50Ms = ms(percentile(lat, 0.5))
	r.res.LookupP99Ms = ms(percentile(lat, 0.99))
	if firstErr != nil {
		r.res.Notes = append(r.res.Notes, "first failed lookup: "+firstErr.Error())
	}
	r.say("%d/%d clones found; lookup p50 %.1f ms, p99 %.1f ms", r.res.Found, r.f.clones, r.res.LookupP50Ms, r.res.LookupP99Ms)
	return ctx.Err()
}

// lookUp has clone k+1 look clone k up for every k of targets, 8 at a
// time, through the providers' admin sockets: how many were found, the
// lookups' latencies and the first failure.
func (r *densityRun) lookUp(ctx context.Context, targets []int, what string) (int, []time.Duration, error) {
	bar := newNamedProgressBar(r.g.stderr, r.name)
	var next, done, found atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(targets) || ctx.Err() != nil {
					return
				}
				k := targets[i]
				target, from := r.clones[k], r.clones[(k+1)%r.f.clones]
				res, err := r.admins[from.prov].Lookup(ctx, clonehost.LookupRequest{From: from.peer.String(),
					User: target.user.String(), Device: "phone"})
				mu.Lock()
				if err == nil && res.Clone == target.peer.String() {
					found.Add(1)
					lat = append(lat, time.Duration(res.Ms*float64(time.Millisecond)))
				} else if firstErr == nil {
					firstErr = fmt.Errorf("clone %d looking up clone %d: %v (got %q)", (k+1)%r.f.clones, k, err, res.Clone)
				}
				bar.step(int(done.Add(1)), len(targets), what)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	bar.done()
	return int(found.Load()), lat, firstErr
}

// pollEvery is pollFor with its own interval (counting 2,000 clones over
// admin sockets every 50 ms would be the load it measures).
func pollEvery[T any](ctx context.Context, every, limit time.Duration, what string, cond func() (T, bool, error)) (T, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		v, ok, err := cond()
		if ok || err != nil {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%s: %w", what, ctx.Err())
		case <-deadline.C:
			return v, fmt.Errorf("%s: not within %v", what, limit.Round(time.Second))
		case <-tick.C:
		}
	}
}

// measureIdle measures the providers over the idle window (every clone
// published, none with a document), then counts the live clones and
// their connections.
func (r *densityRun) measureIdle(ctx context.Context) error {
	if err := r.settle(ctx, r.f.settle, "", &r.res.SettleS); err != nil {
		return err
	}
	r.res.IdleConnS, r.res.SleepAfterS = r.f.idleConn.Seconds(), r.f.sleepAfter.Seconds()
	cpu, byProv, rss, window, err := r.idleWindow(ctx, "idle")
	if err != nil {
		return err
	}
	r.res.IdleWindowS = window.Seconds()
	r.res.IdleCPUPercent = cpu
	r.res.IdleCPUS = cpu / 100 * window.Seconds()
	r.res.IdleCPUSByProvider, r.res.RSSBytesByProvider = byProv.cpuS, byProv.rss
	r.res.RSSBytes = rss
	r.res.RSSBytesPerClone = float64(rss) / float64(r.f.clones)
	c, err := r.census(ctx)
	if err != nil {
		return err
	}
	r.res.Live, r.res.Asleep = c.live, c.asleep
	r.res.ConnsPerClone = float64(c.conns) / float64(r.f.clones)
	return nil
}

// settle leaves the providers alone for d before an idle window (quiet
// time, not a wait for anything) and records it in seconds.
func (r *densityRun) settle(ctx context.Context, d time.Duration, why string, s *float64) error {
	if d <= 0 {
		return nil
	}
	r.say("settling for %v%s", d, why)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
	}
	*s = d.Seconds()
	return nil
}

// measureAfterEdit is the same window once the sample's document exists,
// after --settle-after-edit: its members are dormant by then unless
// something keeps them awake (cloneservice's dormant.go), and their
// devices stay enrolled. live is counted again, at the very end.
func (r *densityRun) measureAfterEdit(ctx context.Context) error {
	if r.f.devices == 0 {
		return nil
	}
	if err := r.settle(ctx, r.f.settleAfterEdit, ", for the document to go dormant", &r.res.SettleAfterEditS); err != nil {
		return err
	}
	cpu, _, rss, window, err := r.idleWindow(ctx, "idle again, with the document")
	if err != nil {
		return err
	}
	r.res.IdleCPUAfterEditPercent = cpu
	r.res.IdleCPUSAfterEdit = cpu / 100 * window.Seconds()
	r.res.RSSBytesPerCloneAfterEdit = float64(rss) / float64(r.f.clones)
	c, err := r.census(ctx)
	if err != nil {
		return err
	}
	r.res.Live = min(r.res.Live, c.live)
	r.res.ConnsPerCloneAfterEdit = float64(c.conns) / float64(r.f.clones)
	r.res.DormantDocsAfterEdit = c.dormantDocs
	return nil
}

// perProvider are an idle window's figures provider by provider.
type perProvider struct {
	cpuS []float64 // CPU seconds over the window
	rss  []uint64  // RSS after it
}

// idleWindow sends nothing for --idle and returns the providers' CPU over
// it (percent of one core, all of them together), their RSS after it, and
// both provider by provider.
func (r *densityRun) idleWindow(ctx context.Context, what string) (float64, perProvider, uint64, time.Duration, error) {
	r.say("%s for %v", what, r.f.idle)
	before := make([]time.Duration, len(r.provs))
	for i, p := range r.provs {
		before[i] = p.cpu()
	}
	t0 := time.Now()
	select { // the window being measured, not a wait for anything
	case <-ctx.Done():
		return 0, perProvider{}, 0, 0, ctx.Err()
	case <-time.After(r.f.idle):
	}
	window := time.Since(t0)
	var cpu time.Duration
	var rss uint64
	byProv := perProvider{cpuS: make([]float64, len(r.provs)), rss: make([]uint64, len(r.provs))}
	for i, p := range r.provs {
		d := p.cpu() - before[i]
		cpu += d
		byProv.cpuS[i] = d.Seconds()
		st, err := procstat.Read(p.pid())
		if err != nil {
			return 0, perProvider{}, 0, 0, fmt.Errorf("%s: %w", p.name, err)
		}
		rss += st.RSS
		byProv.rss[i] = st.RSS
	}
	pct := 100 * cpu.Seconds() / window.Seconds()
	r.say("  providers: %.2f%% of one core (%.2f s of CPU: %v), RSS %.1f MB (%v)", pct, cpu.Seconds(), byProv.cpuS, float64(rss)/1e6, byProv.rss)
	return pct, byProv, rss, window, nil
}

// census counts the clones hosted, published and asleep, their
// connections and their dormant documents.
func (r *densityRun) census(ctx context.Context) (census, error) {
	var c census
	for _, a := range r.admins {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		infos, err := a.Clones(qctx)
		cancel()
		if err != nil {
			return census{}, err
		}
		for _, in := range infos {
			if in.Published {
				c.live++
			}
			if in.State == clonehost.Asleep {
				c.asleep++
			}
			c.conns += in.Conns
			c.dormantDocs += in.DormantDocs
		}
	}
	return c, nil
}

// census is what the providers' admin lists say of their clones together.
type census struct{ live, conns, asleep, dormantDocs int }

// fileAddr is the first QUIC /p2p multiaddr in an addrs file (hosted
// clones dial QUIC only).
func fileAddr(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, addrsFile))
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "", fmt.Errorf("%s/%s is empty", dir, addrsFile)
	}
	return quicAddr(f), nil
}
