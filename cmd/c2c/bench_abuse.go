package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/clone2clone/c2c/internal/procstat"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/spf13/cobra"
)

// abuseParams are the sizes and bounds of c2c bench abuse (flags).
type abuseParams struct {
	Attacks       []string `json:"attacks"`
	Invites       int      `json:"invites"`
	SlowStreams   int      `json:"slow_streams"`
	SlowAnnounce  uint64   `json:"slow_announce_bytes"`
	SlowPeers     int      `json:"slow_peers"`
	SlowHoldS     float64  `json:"slow_hold_s"`
	SlowWaves     int      `json:"slow_waves"`
	Registrations int      `json:"registrations"`
	KillDocs      int      `json:"kill_docs"`
	KillEdits     int      `json:"kill_edits"`
	MaxRSS        uint64   `json:"max_rss_bytes"`
	ReadyS        float64  `json:"ready_timeout_s"`
	HonestS       float64  `json:"honest_timeout_s"`
	AttackS       float64  `json:"attack_timeout_s"`

	slowHold, ready, honest, attack time.Duration
	keep, strict                    bool
	logLevel                        string
}

// abuseAttack is one attack of the bench: run measures it on a fresh
// network, with hosts() attacker hosts, and fills the row.
type abuseAttack struct {
	name, target, help string
	run                func(ctx context.Context, b *abuseBench, n *benchNet, hs []host.Host, row *attackRow)
	hosts              func(p abuseParams) int
	// seqArgs are extra flags of the network's sequencer.
	seqArgs []string
}

func none(abuseParams) int        { return 0 }
func one(abuseParams) int         { return 1 }
func slowPeers(p abuseParams) int { return p.SlowPeers }

// abuseAttacks are the attacks, in the order they run. The baselines are
// controls, not attacks: --attacks all leaves them out.
var abuseAttacks = []abuseAttack{
	{"baseline_clone", "clone-a", "no attack: the checks and the restart alone (a control, not in all)", runBaseline, none, nil},
	{"baseline_sequencer", "sequencer", "no attack: the checks and the restart alone (a control, not in all)", runBaseline, none, nil},
	{"invite_flood", "clone-a", "--invites junk invitations with random document IDs; then c2c doc create on A", runInviteFlood, one, nil},
	{"slow_frames", "clone-a", "--slow-waves waves of --slow-streams device-link streams from --slow-peers\n" +
		"peers, each announcing a --slow-announce frame before any Hello, then stalling\n" +
		"for --slow-hold", runSlowFrames, slowPeers, nil},
	{"register_flood", "sequencer", "--registrations valid registrations from one peer; then c2c doc create on A", runRegisterFlood, one, nil},
	{"kill_clone", "clone-a", "one peer registers --kill-docs documents; edits keep coming on A (c2c doc\n" +
		"edit's path) and A is killed with -9 after --kill-edits acks: those must reach B\n" +
		"(honest_edit_ok, delivery_s); the restarted A acks --kill-edits more, which must\n" +
		"reach B too, then a device edit (restart_ok); the kill is the restart (its sequencer\n" +
		"runs with its per-peer quotas lifted, so that one peer can load it)", runKillClone, one,
		[]string{"--max-docs-per-author", "20000", "--register-rate", "1000000"}},
	{"history_fetch", "sequencer", "a non-member asks the sequencer and clone A for the document's history", runHistoryFetch, one, nil},
}

// abuseAttackNames returns the names of the attacks (with the baselines
// too when controls is set), in run order.
func abuseAttackNames(controls bool) []string {
	var names []string
	for _, a := range abuseAttacks {
		if controls || !strings.HasPrefix(a.name, "baseline") {
			names = append(names, a.name)
		}
	}
	return names
}

func newBenchAbuseCmd(g *globals) *cobra.Command {
	p := abuseParams{}
	var attacks string
	var asJSON bool
	var lines []string
	for _, a := range abuseAttacks {
		help := strings.ReplaceAll(a.help, "\n", "\n"+strings.Repeat(" ", 33))
		lines = append(lines, fmt.Sprintf("  %-19s %-10s %s", a.name, a.target, help))
	}
	cmd := &cobra.Command{
		Use:   "abuse",
		Short: "Attack a clone and a sequencer as a hostile peer; measure the damage and whether honest traffic survives",
		Long: `abuse plays a hostile libp2p peer (a fresh random identity, no credentials,
on 127.0.0.1) against real c2c processes, one attack at a time:

  ATTACK              TARGET     WHAT
` + strings.Join(lines, "\n") + `

For each attack it starts a fresh network of separate processes of this
binary, with the CLI as a user would run it: 1 provider, 1 sequencer, clone
A (user A, with a device) and clone B (user B), and a document created on A
and shared with B. It then reads the attacked process's VmRSS and CPU time
(utime+stime) from /proc, runs the attack while sampling VmRSS every 100 ms,
and reads them again. Then it checks honest traffic: an edit typed on the
device (c2c device type) must reach clone B within --honest-timeout. Then it
kills the attacked process with SIGKILL, restarts it on the same data dir,
and checks that it comes back (--ready-timeout) and that an honest edit
still flows (restart_ok). kill_clone is itself that kill (see above).

Everything lives in a new directory under --data (default the system's temp
dir): one subdirectory per attack, with every process's log in its logs/
(commands.log has the short-lived commands). It is kept when a verdict
fails, an attack could not run, or with --keep; otherwise removed.

Output: a table on stdout, one row per attack (rss before/peak/after and
growth in MiB, cpu seconds, honest_edit_ok, restart_ok, detail); progress
lines on stderr. With --json the table goes to stderr and stdout gets
exactly one JSON object:
  {"attacks":[{"attack":"invite_flood","target":"clone-a","rss_growth_bytes":N,
   "honest_edit_ok":true,"restart_ok":false,"rss_before_bytes":N,"rss_peak_bytes":N,
   "rss_after_bytes":N,"cpu_seconds":F,"duration_s":F,"detail":"...","streams":{...},
   ...},...],"data":DIR,"params":{...}}
rss_growth_bytes is peak minus before. An attack that drives the target
past --max-rss is stopped there (rss_capped), to spare the machine.

Exit status 0 when the bench ran, whatever the verdicts (with --check: 2
when a verdict failed); 1 when it could not (bad flags, no data dir, an
attack's network did not come up: that row says why).

` + envHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sel, err := parseAttackList(attacks)
			if err != nil {
				return err
			}
			p.Attacks = sel
			if err := p.check(); err != nil {
				return err
			}
			p.SlowPeers = min(p.SlowPeers, p.SlowStreams)
			if p.MaxRSS == 0 {
				p.MaxRSS = defaultMaxRSS()
			}
			p.SlowHoldS, p.ReadyS, p.HonestS, p.AttackS = p.slowHold.Seconds(), p.ready.Seconds(), p.honest.Seconds(), p.attack.Seconds()
			return runAbuseBench(cmd, g, p, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&attacks, "attacks", "all", "comma-separated attacks to run: all (every attack, no baseline), or of "+strings.Join(abuseAttackNames(true), ", "))
	f.IntVar(&p.Invites, "invites", 10000, "invite_flood: junk invitations")
	f.IntVar(&p.SlowStreams, "slow-streams", 1000, "slow_frames: streams in one wave")
	f.Uint64Var(&p.SlowAnnounce, "slow-announce", 16<<20, "slow_frames: frame size each stream announces, in bytes")
	f.IntVar(&p.SlowPeers, "slow-peers", 20, "slow_frames: attacker identities the streams are spread over (libp2p's per-peer stream limit would otherwise cap one)")
	f.DurationVar(&p.slowHold, "slow-hold", 15*time.Second, "slow_frames: how long the attacker holds one wave of streams open")
	f.IntVar(&p.SlowWaves, "slow-waves", 2, "slow_frames: waves of --slow-streams, one after the other (a later wave reuses, and so touches, the memory an earlier one made the clone allocate)")
	f.IntVar(&p.Registrations, "registrations", 10000, "register_flood: registrations from one peer")
	f.IntVar(&p.KillDocs, "kill-docs", 10000, "kill_clone: documents the sequencer holds at the kill (registered by one peer first)")
	f.IntVar(&p.KillEdits, "kill-edits", 20, "kill_clone: edits acknowledged on clone A before its kill -9, and again after its restart")
	f.Uint64Var(&p.MaxRSS, "max-rss", 0, "stop an attack once its target's RSS reaches this many bytes (0: 1/4 of available memory, at most 4 GiB)")
	f.DurationVar(&p.ready, "ready-timeout", 90*time.Second, "bound for a process to come up (its ready file)")
	f.DurationVar(&p.honest, "honest-timeout", 60*time.Second, "bound for an honest edit (or a command) to get through")
	f.DurationVar(&p.attack, "attack-timeout", 10*time.Minute, "bound of one attack's run")
	f.StringVar(&p.logLevel, "child-log-level", "info", "--log-level of the network's processes (their logs/<process>.log)")
	f.BoolVar(&p.keep, "keep", false, "keep the data dir even when every verdict holds")
	f.BoolVar(&asJSON, "json", false, "print one JSON object on stdout (the table goes to stderr)")
	f.BoolVar(&p.strict, "check", false, "exit with status 2 when a verdict fails (for CI)")
	return cmd
}

// parseAttackList parses --attacks: "all" or a comma list of known names,
// returned in run order.
func parseAttackList(s string) ([]string, error) {
	if strings.TrimSpace(s) == "all" || strings.TrimSpace(s) == "" {
		return abuseAttackNames(false), nil
	}
	all := abuseAttackNames(true)
	want := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(all, name) {
			return nil, fmt.Errorf("--attacks: unknown attack %q (want all, or some of %s)", name, strings.Join(all, ", "))
		}
		want[name] = true
	}
	var out []string
	for _, name := range all {
		if want[name] {
			out = append(out, name)
		}
	}
	return out, nil
}

func (p *abuseParams) check() error {
	switch {
	case p.Invites < 1 || p.SlowStreams < 1 || p.SlowWaves < 1 || p.Registrations < 1 || p.KillDocs < 1 || p.KillEdits < 1:
		return errors.New("--invites, --slow-streams, --slow-waves, --registrations, --kill-docs and --kill-edits must be at least 1")
	case p.SlowPeers < 1:
		return fmt.Errorf("--slow-peers %d: want at least 1", p.SlowPeers)
	case p.SlowAnnounce < 1:
		return errors.New("--slow-announce must be at least 1 byte")
	case p.slowHold <= 0 || p.ready <= 0 || p.honest <= 0 || p.attack <= 0:
		return errors.New("--slow-hold, --ready-timeout, --honest-timeout and --attack-timeout must be positive")
	}
	return nil
}

// defaultMaxRSS is 1/4 of the memory available now, at most 4 GiB (1 GiB
// if /proc/meminfo cannot be read).
func defaultMaxRSS() uint64 {
	avail, err := procstat.Meminfo("MemAvailable")
	if err != nil {
		return 1 << 30
	}
	return min(avail/4, 4<<30)
}

// abuseBench is one run of c2c bench abuse.
type abuseBench struct {
	env *benchEnv
	p   abuseParams
}

func runAbuseBench(cmd *cobra.Command, g *globals, p abuseParams, asJSON bool) error {
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: this binary's path: %w", err)
	}
	parent := g.data
	if parent == "" {
		parent = os.TempDir()
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	root, err := os.MkdirTemp(parent, "c2c-bench-abuse-")
	if err != nil {
		return err
	}
	b := &abuseBench{p: p, env: &benchEnv{bin: bin, progress: cmd.ErrOrStderr(), ready: p.ready, honest: p.honest, logLevel: p.logLevel}}
	rep := &abuseReport{Data: root, StartedAt: time.Now(), Params: p}
	b.env.say("abuse: %s; data and logs in %s; an attack is stopped at %s MiB of target RSS", strings.Join(p.Attacks, ", "), root, mib(p.MaxRSS))
	ctx := cmd.Context()
	for _, a := range abuseAttacks {
		if !slices.Contains(p.Attacks, a.name) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		i := len(rep.Attacks) + 1
		b.env.say("[%d/%d] %s", i, len(p.Attacks), a.name)
		rep.Attacks = append(rep.Attacks, b.runOne(ctx, a, filepath.Join(root, fmt.Sprintf("%d-%s", i, a.name))))
	}
	rep.DurationS = time.Since(rep.StartedAt).Seconds()
	allOK, ran := true, true
	for _, r := range rep.Attacks {
		allOK = allOK && r.ok()
		ran = ran && r.Error == ""
	}
	rep.Kept = !allOK || p.keep || ctx.Err() != nil
	table := cmd.OutOrStdout()
	if asJSON {
		table = cmd.ErrOrStderr()
	}
	rep.printTable(table)
	if rep.Kept {
		fmt.Fprintf(table, "data and logs kept in %s (per attack: logs/<process>.log, logs/commands.log)\n", root)
	} else if err := os.RemoveAll(root); err != nil {
		return err
	} else {
		fmt.Fprintf(table, "every verdict held; %s removed (--keep keeps it)\n", root)
	}
	if asJSON {
		if err := rep.writeJSON(cmd.OutOrStdout()); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("bench abuse: interrupted: %w", ctx.Err())
	}
	if !ran {
		return fmt.Errorf("bench abuse: not every attack could run (see the table)")
	}
	if p.strict && !allOK {
		return fmt.Errorf("%w: bench abuse: a verdict failed (see the table)", errVerdict)
	}
	return nil
}

// runOne runs attack a on a fresh network in dir.
func (b *abuseBench) runOne(ctx context.Context, a abuseAttack, dir string) *attackRow {
	row := &attackRow{Attack: a.name, Target: a.target, Logs: filepath.Join(dir, "logs")}
	n, err := startBenchNet(ctx, b.env, dir, a.seqArgs...)
	if err != nil {
		row.Error = err.Error()
		b.env.say("  network did not come up: %v", err)
		return row
	}
	defer n.close()
	hs, stop, err := attackers(a.hosts(b.p))
	if err != nil {
		row.Error = err.Error()
		return row
	}
	defer stop()
	a.run(ctx, b, n, hs, row)
	row.finish()
	b.env.say("  %s: growth %s MiB, honest_edit_ok %v, restart_ok %v: %s", a.name, mib(uint64(max(row.RSSGrowth, 0))), row.HonestEditOK, row.RestartOK, row.Detail)
	return row
}

// measure runs attack against target while sampling its RSS every 100 ms,
// and fills the row's RSS, CPU and duration. The attack's context ends at
// --attack-timeout, or as soon as the target's RSS reaches --max-rss.
func (b *abuseBench) measure(ctx context.Context, target *child, row *attackRow, attack func(ctx context.Context)) {
	if st, err := procstat.Read(target.pid()); err == nil {
		row.RSSBefore = st.RSS
	}
	cpu0 := target.cpu()
	actx, cancel := context.WithTimeout(ctx, b.p.attack)
	defer cancel()
	var capped atomic.Bool
	s := procstat.NewSampler(target.pid, 100*time.Millisecond)
	s.OnLimit(b.p.MaxRSS, func(rss uint64) {
		capped.Store(true)
		b.env.say("  %s reached %s MiB of RSS: stopping the attack", target.name, mib(rss))
		cancel()
	})
	start := time.Now()
	s.Start()
	attack(actx)
	row.DurationS = time.Since(start).Seconds()
	row.RSSPeak = max(s.Stop(), row.RSSBefore)
	if st, err := procstat.Read(target.pid()); err == nil {
		row.RSSAfter = st.RSS
	} else if gone, exit := target.exited(); gone {
		row.note("%s exited during the attack (%v)", target.name, exit)
	}
	row.CPUSeconds = (target.cpu() - cpu0).Seconds()
	row.RSSGrowth = int64(row.RSSPeak) - int64(row.RSSBefore)
	row.RSSCapped = capped.Load()
	if row.RSSCapped {
		row.note("stopped at --max-rss %s MiB", mib(b.p.MaxRSS))
	}
}

// honestThenRestart checks that an honest edit flows after an attack, then
// kills target with SIGKILL, restarts it and checks that it comes back and
// that an honest edit flows again.
func (b *abuseBench) honestThenRestart(ctx context.Context, n *benchNet, target *child, row *attackRow) {
	if took, err := n.honestEdit(ctx); err != nil {
		row.note("honest edit after the attack: %v", err)
	} else {
		row.HonestEditOK, row.HonestEditS = true, took.Seconds()
		b.env.say("  honest device edit reached B in %v", took.Round(time.Millisecond))
	}
	b.restartAndEdit(ctx, n, target, row)
}

// restartAndEdit is the kill -9 and restart half of honestThenRestart.
func (b *abuseBench) restartAndEdit(ctx context.Context, n *benchNet, target *child, row *attackRow) {
	took, err := n.restart(ctx, target)
	row.RestartS = took.Seconds()
	if err != nil {
		row.note("after kill -9: %v", err)
		return
	}
	row.Restarted = true
	b.env.say("  %s killed with SIGKILL and back in %v", target.name, took.Round(time.Millisecond))
	if took, err := n.honestEdit(ctx); err != nil {
		row.note("honest edit after the restart: %v", err)
		return
	} else {
		b.env.say("  honest device edit after the restart reached B in %v", took.Round(time.Millisecond))
	}
	row.RestartOK = true
}
