package paperbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Config is one experiment.
type Config struct {
	Users       int // devices (and users); the paper's 16
	Runs        int // repetitions; the paper's 10
	EditsEach   int // phase 1: edits per device
	UpdateEdits int // phase 2: edits per other device while one is offline
	CheckEdits  int // phase 3: edits per device on the forked document
	// Dir holds the datastores (a fresh subdirectory per mode and run).
	Dir string
	// Device returns the command of a device process: one that calls
	// ChildMain (c2c bench paper-device; a test binary in tests).
	Device func() *exec.Cmd
	// Progress, if set, is told of each step done, out of total.
	Progress func(done, total int, step string)
	Log      *slog.Logger
	// Limit bounds every wait on a device or the network.
	Limit time.Duration
}

// DefaultConfig is the paper's setup: 16 users, 10 runs.
func DefaultConfig() Config {
	return Config{Users: 16, Runs: 10, EditsEach: 63, UpdateEdits: 20, CheckEdits: 10, Limit: 3 * time.Minute}
}

// Validate checks the sizes.
func (c Config) Validate() error {
	switch {
	case c.Users < 3 || c.Users > 16:
		return fmt.Errorf("paperbench: %d users: want 3 to 16 (one removed, one offline, tokens per device)", c.Users)
	case c.Runs < 1:
		return errors.New("paperbench: want at least one run")
	case c.EditsEach < 1 || c.UpdateEdits < 1 || c.CheckEdits < 1:
		return errors.New("paperbench: every phase needs at least one edit per device")
	case c.EditsEach+c.UpdateEdits+c.CheckEdits >= 4096:
		return errors.New("paperbench: at most 4095 edits per device (its tokens)")
	case c.Device == nil || c.Dir == "":
		return errors.New("paperbench: Device and Dir are required")
	case c.Limit <= 0:
		return errors.New("paperbench: Limit must be positive")
	}
	return nil
}

// Phases, in order.
var Phases = []string{"edit", "update", "check", "remove"}

// Modes, in the order they run.
var Modes = []device.Mode{device.ModeClone, device.ModeDirect}

// phaseRun is what one phase measured in one mode and run.
type phaseRun struct {
	Windows []window // per measured device
	Wall    time.Duration
	// Figure 2: edit: until every device had every edit; update: until the
	// returning device was up to date.
	Figure2 time.Duration
	// Detected: phase 3's members (clones or device engines) that detected
	// the fork.
	Detected int
}

// modeRun is one mode's run: the phases by name.
type modeRun map[string]*phaseRun

// Run runs the experiment.
func Run(ctx context.Context, cfg Config) (*Raw, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = quiet()
	}
	raw := &Raw{Config: cfg}
	steps, total := 0, cfg.Runs*len(Modes)*(len(Phases)+1)
	step := func(what string) {
		steps++
		if cfg.Progress != nil {
			cfg.Progress(steps, total, what)
		}
	}
	for r := range cfg.Runs {
		for _, mode := range Modes {
			dir := filepath.Join(cfg.Dir, fmt.Sprintf("run%d-%s", r, mode))
			mr, err := runMode(ctx, cfg, mode, dir, func(p string) { step(fmt.Sprintf("run %d/%d %s: %s", r+1, cfg.Runs, mode, p)) })
			if err != nil {
				return nil, fmt.Errorf("run %d, %s mode: %w", r+1, mode, err)
			}
			raw.Runs = append(raw.Runs, RawRun{Run: r, Mode: mode, Phases: mr})
		}
	}
	return raw, nil
}

// setup is one mode's network and devices.
type setup struct {
	cfg   Config
	mode  device.Mode
	w     *world
	procs []*proc
	ref   *cloneNode   // clone 0 (clone mode) or the admin (direct mode)
	watch []*cloneNode // clone mode: every device's clone
	docs  [2]docsync.DocID
	// removed is the member phase 4 removes: the last user's.
	removed docsync.MemberID
	tokens  int // tokens typed into document 0 so far
	cfgs    []*childConfig
	addrs   map[int]string // direct mode: each device engine's multiaddr
}

func runMode(ctx context.Context, cfg Config, mode device.Mode, dir string, step func(string)) (_ modeRun, err error) {
	s := &setup{cfg: cfg, mode: mode, w: newWorld(dir, cfg.Log), addrs: map[int]string{}}
	defer func() {
		for _, p := range s.procs {
			_ = p.send("QUIT")
		}
		for _, p := range s.procs {
			p.kill()
		}
		s.w.close()
		_ = os.RemoveAll(dir)
	}()
	if err := s.start(ctx, dir); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	step("setup")
	out := modeRun{}
	for _, ph := range []struct {
		name string
		f    func(context.Context) (*phaseRun, error)
	}{{"edit", s.edit}, {"update", s.update}, {"check", s.check}, {"remove", s.remove}} {
		pr, err := ph.f(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s phase: %w", ph.name, err)
		}
		out[ph.name] = pr
		step(ph.name)
	}
	return out, nil
}

// start brings the sequencers, the clones (or the admin) and the device
// processes up, with both documents shared by every device.
func (s *setup) start(ctx context.Context, dir string) error {
	n := s.cfg.Users
	members := n
	if s.mode == device.ModeDirect {
		members++ // the admin
	}
	seq, err := s.w.sequencer("sequencer", nil)
	if err != nil {
		return err
	}
	eq := &equivocating{victims: map[docsync.MemberID]bool{}}
	// The fork comes once the members are in and phase 3 has edited.
	byz, err := s.w.sequencer("sequencer-forking", eq.factory(uint64(members+8)))
	if err != nil {
		return err
	}
	keys := make([]crypto.PrivKey, n)
	for i := range keys {
		if keys[i], _, err = crypto.GenerateEd25519Key(nil); err != nil {
			return err
		}
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Limit)
	defer cancel()
	if s.mode == device.ModeClone {
		for i := range n {
			c, err := s.w.clone(fmt.Sprint("clone-", i), keys[i].GetPublic())
			if err != nil {
				return err
			}
			s.watch = append(s.watch, c)
		}
		s.ref = s.watch[0]
	} else if s.ref, err = s.w.clone("admin", nil); err != nil {
		return err
	}
	for i, sq := range []*peerNode{seq, byz} {
		if s.docs[i], err = s.ref.svc.Create(cctx, sq.info()); err != nil {
			return fmt.Errorf("create: %w", err)
		}
	}
	invite := func(i int, user peer.ID) error {
		for d, doc := range s.docs {
			m, err := s.ref.svc.Invite(cctx, doc, user, "phone", docsync.RoleWriter)
			if err != nil {
				return fmt.Errorf("invite user %d: %w", i, err)
			}
			if d == 1 && i%2 == 1 {
				eq.mark(m)
			}
			if d == 0 && i == n-1 {
				s.removed = m
			}
		}
		return nil
	}
	for i := range n {
		keyBytes, err := crypto.MarshalPrivateKey(keys[i])
		if err != nil {
			return err
		}
		cfg := &childConfig{Mode: s.mode, Index: i, Key: keyBytes, Docs: [2]string{docHex(s.docs[0]), docHex(s.docs[1])},
			Data: filepath.Join(dir, fmt.Sprint("device-", i)), Seed: uint64(i + 1)}
		var hpkePub []byte
		if s.mode == device.ModeClone {
			if i > 0 {
				if err := invite(i, s.watch[i].user); err != nil {
					return err
				}
			}
			cfg.User, cfg.CloneAddr = s.watch[i].user.String(), s.watch[i].addr()
		} else {
			if cfg.HPKEPriv, hpkePub, err = dht.GenerateHPKEKey(); err != nil {
				return err
			}
			cfg.Peers = []string{seq.addr(), byz.addr(), s.ref.addr()}
		}
		s.cfgs = append(s.cfgs, cfg)
		p, err := startProc(i, s.cfg.Device(), cfg)
		if err != nil {
			return err
		}
		s.procs = append(s.procs, p)
		if s.mode == device.ModeDirect {
			ai, err := s.engineAddr(p)
			if err != nil {
				return err
			}
			cert, err := s.w.direct.enroll(ai.ID, ai.ID, hpkePub)
			if err != nil {
				return err
			}
			if err := invite(i, cert.User); err != nil {
				return err
			}
		}
	}
	for _, p := range s.procs {
		if _, err := p.expect("READY", s.cfg.Limit); err != nil {
			return err
		}
	}
	if s.mode == device.ModeDirect {
		for i := range s.procs {
			if err := s.connect(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// engineAddr reads a direct-mode device's ENGINE line and tells the
// directory where it listens.
func (s *setup) engineAddr(p *proc) (peer.AddrInfo, error) {
	addr, err := p.expect("ENGINE", s.cfg.Limit)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	ai, err := addrInfo(addr)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	s.w.direct.addAddr(ai)
	s.addrs[p.idx] = addr
	return ai, nil
}

// connect has direct-mode device i's engine connect to the other members'
// engines, as a clone does through the directory: gossip and fork evidence
// travel between members, not only through the sequencer.
func (s *setup) connect(i int) error {
	var others []string
	for j, a := range s.addrs {
		if j != i && a != "" {
			others = append(others, a)
		}
	}
	if err := s.procs[i].send("CONNECT " + strings.Join(others, " ")); err != nil {
		return err
	}
	_, err := s.procs[i].expect("OK", s.cfg.Limit)
	return err
}

// reference waits until the reference node's text holds every token typed
// into document 0 and returns the text's hash.
func (s *setup) reference(ctx context.Context) (string, error) {
	var h string
	err := poll(ctx, "every edit at the reference", func() bool {
		t, err := s.ref.svc.Text(s.docs[0])
		if err != nil {
			return false
		}
		n := 0
		for _, r := range t {
			if isToken(r) {
				n++
			}
		}
		h = textHash(t)
		return n == s.tokens
	})
	return h, err
}

func (s *setup) limit(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Limit)
}

// reports collects the windows of ps.
func (s *setup) reports(ps []*proc) ([]window, error) {
	var out []window
	for _, p := range ps {
		w, err := p.report(s.cfg.Limit)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// edit is phase 1: every device types EditsEach tokens into document 0
// at once; the phase ends when every device holds every edit.
func (s *setup) edit(ctx context.Context) (*phaseRun, error) {
	ctx, cancel := s.limit(ctx)
	defer cancel()
	if _, err := all(s.procs, "MARK", s.cfg.Limit); err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := all(s.procs, fmt.Sprintf("EDIT 0 %d sync", s.cfg.EditsEach), s.cfg.Limit); err != nil {
		return nil, err
	}
	s.tokens += len(s.procs) * s.cfg.EditsEach
	h, err := s.reference(ctx)
	if err != nil {
		return nil, err
	}
	ats, err := all(s.procs, "WAIT "+h, s.cfg.Limit)
	if err != nil {
		return nil, err
	}
	last := latest(ats)
	ws, err := s.reports(s.procs)
	if err != nil {
		return nil, err
	}
	return &phaseRun{Windows: ws, Wall: time.Since(start), Figure2: last.Sub(start)}, nil
}

func latest(ats []string) time.Time {
	var last time.Time
	for _, a := range ats {
		ns, _ := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
		if t := time.Unix(0, ns); t.After(last) {
			last = t
		}
	}
	return last
}

// update is phase 2: the last device goes away (its process ends; what it
// acknowledged is on its disk) while the others type UpdateEdits tokens
// each, then comes back (a new process on the same data). It is the one
// measured, from its start until its text is the document's. (It is also
// the member phase 4 removes: a direct-mode engine that restarted does not
// always receive the others' gossip afterwards, see docs/bench.md, and
// phase 4 waits for every remaining engine.)
func (s *setup) update(ctx context.Context) (*phaseRun, error) {
	ctx, cancel := s.limit(ctx)
	defer cancel()
	last := len(s.procs) - 1
	away, others := s.procs[last], s.procs[:last]
	if _, err := all([]*proc{away}, "QUIT", s.cfg.Limit); err != nil {
		return nil, err
	}
	away.kill() // waits for the exit: the datastore is closed
	if _, err := all(others, fmt.Sprintf("EDIT 0 %d sync", s.cfg.UpdateEdits), s.cfg.Limit); err != nil {
		return nil, err
	}
	s.tokens += len(others) * s.cfg.UpdateEdits
	h, err := s.reference(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := all(others, "WAIT "+h, s.cfg.Limit); err != nil {
		return nil, err
	}
	start := time.Now()
	back, err := startProc(last, s.cfg.Device(), s.cfgs[last])
	if err != nil {
		return nil, err
	}
	s.procs[last] = back
	if s.mode == device.ModeDirect {
		if _, err := s.engineAddr(back); err != nil {
			return nil, err
		}
	}
	if _, err := back.expect("READY", s.cfg.Limit); err != nil {
		return nil, err
	}
	if s.mode == device.ModeDirect {
		if err := s.connect(last); err != nil {
			return nil, err
		}
	}
	ats, err := all([]*proc{back}, "WAIT "+h, s.cfg.Limit)
	if err != nil {
		return nil, err
	}
	ws, err := s.reports([]*proc{back})
	if err != nil {
		return nil, err
	}
	return &phaseRun{Windows: ws, Wall: time.Since(start), Figure2: latest(ats).Sub(start)}, nil
}

// check is phase 3: every device edits document 1, whose sequencer forks
// the log once it reaches a given seq; the devices type rounds of
// CheckEdits tokens until a member (clone or device engine) detects the
// fork, and the phase ends when every member holds the proof, or when no
// further member has detected it for detectWait (a member that never
// detects is counted, not waited for).
func (s *setup) check(ctx context.Context) (*phaseRun, error) {
	ctx, cancel := s.limit(ctx)
	defer cancel()
	if _, err := all(s.procs, "MARK", s.cfg.Limit); err != nil {
		return nil, err
	}
	start := time.Now()
	n, last := 0, start
	for n == 0 {
		if _, err := all(s.procs, fmt.Sprintf("EDIT 1 %d nosync", s.cfg.CheckEdits), s.cfg.Limit); err != nil {
			return nil, err
		}
		var err error
		if n, last, err = s.detected(ctx, 0, last); err != nil {
			return nil, err
		}
	}
	for n < len(s.procs) {
		m, at, err := s.detected(ctx, n, last)
		if err != nil {
			return nil, err
		}
		if m == n {
			break
		}
		n, last = m, at
	}
	ws, err := s.reports(s.procs)
	if err != nil {
		return nil, err
	}
	return &phaseRun{Windows: ws, Wall: time.Since(start), Figure2: last.Sub(start), Detected: n}, nil
}

// detected waits up to detectWait for every member to hold a fork proof.
// It returns how many do and when that count was first seen (last if it
// did not grow beyond prev).
func (s *setup) detected(ctx context.Context, prev int, last time.Time) (int, time.Time, error) {
	halted := func() (int, error) {
		n := 0
		if s.mode == device.ModeClone {
			for _, c := range s.watch {
				if in, err := c.svc.Info(s.docs[1]); err == nil && in.Halted != nil {
					n++
				}
			}
			return n, nil
		}
		out, err := all(s.procs, "HALTED", s.cfg.Limit)
		for _, o := range out {
			if o == "1" {
				n++
			}
		}
		return n, err
	}
	wctx, cancel := context.WithTimeout(ctx, detectWait)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	n := prev
	for {
		m, err := halted()
		if err != nil {
			return n, last, err
		}
		if m > n {
			n, last = m, time.Now()
		}
		if n == len(s.procs) {
			return n, last, nil
		}
		select {
		case <-wctx.Done():
			return n, last, ctx.Err() // nil while the phase's own limit holds
		case <-t.C:
		}
	}
}

// detectWait is how long phase 3 waits for a further detection (fork
// proofs travel with head gossip, every 200 ms, and are repeated every 2 s).
const detectWait = 3 * time.Second

func (s *setup) waitClones(ctx context.Context, cs []*cloneNode, doc int, cond func(cloneservice.Info) bool) error {
	return poll(ctx, "every clone", func() bool {
		for _, c := range cs {
			in, err := c.svc.Info(s.docs[doc])
			if err != nil || !cond(in) {
				return false
			}
		}
		return true
	})
}

// remove is phase 4: the admin removes the last user and the document is
// rekeyed; the remaining devices are measured until each one's engine (or
// clone) holds the new key epoch.
func (s *setup) remove(ctx context.Context) (*phaseRun, error) {
	ctx, cancel := s.limit(ctx)
	defer cancel()
	stay := s.procs[:len(s.procs)-1]
	if _, err := all(stay, "MARK", s.cfg.Limit); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := s.ref.svc.Remove(ctx, s.docs[0], s.removed); err != nil {
		return nil, err
	}
	in, err := s.ref.svc.Info(s.docs[0])
	if err != nil {
		return nil, err
	}
	if s.mode == device.ModeDirect {
		if _, err := all(stay, fmt.Sprint("EPOCH ", in.Epoch), s.cfg.Limit); err != nil {
			return nil, err
		}
	} else if err := s.waitClones(ctx, s.watch[:len(s.watch)-1], 0, func(i cloneservice.Info) bool { return i.Epoch >= in.Epoch }); err != nil {
		return nil, err
	}
	rekeyed := time.Since(start)
	ws, err := s.reports(stay)
	if err != nil {
		return nil, err
	}
	return &phaseRun{Windows: ws, Wall: time.Since(start), Figure2: rekeyed}, nil
}
