package paperbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
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
	// DeviceLogLevel, if set (debug, info, warn or error), has each
	// device process log its host's and engine's events at that level to
	// its stderr, each line tagged with device=index; unset, they log
	// nothing.
	DeviceLogLevel string
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
	// removed is the member phase 4 removes: removedUser's.
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
			if d == 0 && i == removedUser(n) {
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
			Data: filepath.Join(dir, fmt.Sprint("device-", i)), Seed: uint64(i + 1), LogLevel: s.cfg.DeviceLogLevel}
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
