package main

import (
	"context"
	"fmt"
	"github.com/clone2clone/c2c/internal/cli"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/clone2clone/c2c/device/energy"
	"github.com/clone2clone/c2c/device/paperbench"
	"github.com/spf13/cobra"
)

// paperFlags are c2c bench paper's settings.
type paperFlags struct {
	cfg     paperbench.Config
	link    string
	profile string
	out     string
	prof    windowProfiles // of this process (the cloud side), the whole run
}

func newBenchPaperCmd(g *globals) *cobra.Command {
	f := &paperFlags{cfg: paperbench.DefaultConfig(), link: "lte", profile: "galaxy-s-plus", out: "bench-paper"}
	var cmd *cobra.Command
	cmd = newBenchReportCmd(g, "paper [--runs R] [--json]",
		"The C2C paper's experiment: 16 device processes, four phases, clone mode against direct mode (SPORC)",
		`paper runs the C2C paper's evaluation: --users users (16), each with a device
in a process of its own (this binary, c2c bench paper-device), once in clone
mode (the device is the thin client of its clone) and once in direct mode
(the SPORC baseline: the whole clone engine on the device), through four
phases, --runs times (10, as in the paper):

  edit    every device types --edits tokens into one document at once
  update  the last device goes away (its process ends) while the others
          type --update-edits each, then comes back on its data (only it
          is measured, from its start until it is up to date)
  check   the sequencer of a second document forks the log (a Byzantine
          sequencer); devices type until every member detected the fork
  remove  the last user is removed and the document rekeyed (the devices
          that stay are measured)

The clones, the two sequencers and the directory run in this process on
real libp2p hosts on 127.0.0.1 with pebble datastores. Each device measures
its stream bytes, its CPU time (getrusage) and its signature and AEAD
operations, and records when it sent and received; the energy is an
estimate from that timeline: a radio model (--link lte, 3g or wifi, with
AT&T ARO's and Huang et al.'s power values) plus CPU time scaled to a phone
(--profile htc-hero or galaxy-s-plus). docs/bench.md gives the model, its
sources and its limits.

It prints a table per phase (clone mode, direct mode, the ratio, and the
paper's ratio in a column of its own), the goals, and writes three PNG
charts into --out: per-phase energy, per-phase device bytes and the phase 1
delivery latency CDF. With --json it prints one JSON object instead of the
tables (phases.{edit,update,check,remove}.{clone,direct}.{bytes_up,
bytes_down,cpu_ms,crypto_ops,energy_mj,...}). A progress bar goes to stderr.
With --log-level the bench's nodes (sequencers, admin, clones) and every
device process (its host, engine and link; lines tagged device=N) log to
stderr at that level; without it they log nothing.

`+envHelp,
		func() (*paperbench.Result, error) { return runBenchPaper(cmd.Context(), g, f) },
		func(w io.Writer, r *paperbench.Result) { paperTables(w, r) })
	fl := cmd.Flags()
	fl.IntVar(&f.cfg.Runs, "runs", f.cfg.Runs, "repetitions of both modes and all phases")
	fl.IntVar(&f.cfg.Users, "users", f.cfg.Users, "users, each with a device process (3 to 16)")
	fl.IntVar(&f.cfg.EditsEach, "edits", f.cfg.EditsEach, "phase 1: edits per device")
	fl.IntVar(&f.cfg.UpdateEdits, "update-edits", f.cfg.UpdateEdits, "phase 2: edits per other device while the last one is away")
	fl.IntVar(&f.cfg.CheckEdits, "check-edits", f.cfg.CheckEdits, "phase 3: edits per device per round until the fork is detected")
	fl.DurationVar(&f.cfg.Limit, "limit", f.cfg.Limit, "give up on any one wait (a device, a phase) after this long")
	fl.StringVar(&f.link, "link", f.link, "radio model for energy_mj: lte, 3g or wifi (the table shows all three)")
	fl.StringVar(&f.profile, "profile", f.profile, "phone for the CPU energy: htc-hero or galaxy-s-plus")
	fl.StringVar(&f.out, "out", f.out, "directory for the PNG charts (created; empty: no charts)")
	fl.StringVar(&f.prof.cpu, "cpu-profile", "", "write a CPU profile of this process (clones, sequencers, directory) over the run to this file")
	fl.StringVar(&f.prof.mutex, "mutex-profile", "", "write a mutex contention profile of this process over the run to this file")
	fl.StringVar(&f.prof.block, "block-profile", "", "write a blocking profile of this process over the run to this file")
	return cmd
}

// newBenchPaperDeviceCmd is a device process of c2c bench paper (hidden:
// only the bench starts it, with its configuration on stdin).
func newBenchPaperDeviceCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "paper-device",
		Short:  "A device process of c2c bench paper (started by it; reads commands on stdin)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   func(*cobra.Command, []string) error { return paperbench.ChildMain() },
	}
}

func runBenchPaper(ctx context.Context, g *globals, f *paperFlags) (*paperbench.Result, error) {
	prof, ok := energy.Profiles()[f.profile]
	if !ok {
		return nil, fmt.Errorf("bench paper: unknown --profile %q: want htc-hero or galaxy-s-plus", f.profile)
	}
	if _, ok := energy.Radios()[f.link]; !ok {
		return nil, fmt.Errorf("bench paper: unknown --link %q: want lte, 3g or wifi", f.link)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "c2c-bench-paper-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfg := f.cfg
	cfg.Dir = dir
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if g.logLevelSet {
		cfg.Log = g.log
		cfg.DeviceLogLevel = g.logLevel
	}
	cfg.Device = func() *exec.Cmd {
		c := exec.Command(self, "bench", "paper-device")
		c.Stderr = g.stderr
		return c
	}
	bar := newProgressBar(g.stderr)
	cfg.Progress = bar.step
	if err := f.prof.start(); err != nil {
		return nil, err
	}
	raw, err := paperbench.Run(ctx, cfg)
	bar.done()
	if perr := f.prof.stop(); err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	res, err := paperbench.Summarize(raw, f.link, prof)
	if err != nil {
		return nil, err
	}
	if f.out != "" {
		if err := os.MkdirAll(f.out, 0o755); err != nil {
			return nil, err
		}
		paths, err := paperbench.WriteCharts(res, f.out)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(g.stderr, "c2c bench paper: charts %s\n", strings.Join(paths, ", "))
	}
	return res, nil
}

// progressBar draws one line on w, redrawn at each step, when w is a
// terminal; elsewhere (a log file, CI) it prints a plain line every tenth
// of the way.
type progressBar struct {
	w     io.Writer
	start time.Time
	tty   bool
	tenth int    // the last tenth printed off a terminal
	name  string // what the plain lines start with
}

func newProgressBar(w io.Writer) *progressBar { return newNamedProgressBar(w, "c2c bench paper") }

// newNamedProgressBar is a progress bar whose plain lines start with name.
func newNamedProgressBar(w io.Writer, name string) *progressBar {
	return &progressBar{w: w, start: time.Now(), tty: cli.IsTerminal(w), name: name}
}

func (b *progressBar) step(done, total int, what string) {
	const width = 30
	total = max(total, 1)
	if !b.tty {
		if t := done * 10 / total; t > b.tenth {
			b.tenth = t
			fmt.Fprintf(b.w, "%s: %d/%d %s %.0fs\n", b.name, done, total, what, time.Since(b.start).Seconds())
		}
		return
	}
	n := done * width / total
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d %-34s %5.0fs", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total, what,
		time.Since(b.start).Seconds())
}

func (b *progressBar) done() {
	if b.tty {
		fmt.Fprintln(b.w)
	}
}

// paperTables prints a table per phase and the goals.
func paperTables(w io.Writer, r *paperbench.Result) {
	fmt.Fprintf(w, "C2C paper experiment: %d users, %d runs; energy estimate: %s radio + CPU of a %s (x%.0f CPU time at %.0f mW)\n",
		r.Users, r.Runs, r.Link, r.Profile.Phone, r.Profile.CPUScale, r.Profile.CPUPowerMW)
	titles := map[string]string{"edit": "Phase 1: concurrent editing", "update": "Phase 2: update of a disconnected user (the returning device)",
		"check": "Phase 3: security check (misbehaving sequencer detected)", "remove": "Phase 4: removal of a member, with rekey (the devices that stay)"}
	fig2 := map[string]string{"edit": "time to apply all edits ms", "update": "time to update the user ms",
		"check": "time to detect the fork ms", "remove": "time to rekey ms"}
	for _, ph := range paperbench.Phases {
		c, d, ra := r.Phases[ph]["clone"], r.Phases[ph]["direct"], r.Ratios[ph]
		fmt.Fprintf(w, "\n### %s\n\n", titles[ph])
		fmt.Fprintf(w, "| per device | clone | direct | clone/direct | paper |\n|---|---:|---:|---:|---|\n")
		row := func(name string, cv, dv float64, paper string) {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", name, num(cv), num(dv), ratio(cv, dv), paper)
		}
		row("bytes up", c.BytesUp, d.BytesUp, "")
		row("bytes down", c.BytesDown, d.BytesDown, "")
		row("bytes total", c.BytesUp+c.BytesDown, d.BytesUp+d.BytesDown, ra.PaperBytes)
		row("CPU ms (here)", c.CPUms, d.CPUms, "")
		row("signatures", c.Signs, d.Signs, "")
		row("verifications", c.Verifies, d.Verifies, "")
		row("AEAD seals + opens", c.AEADSeals+c.AEADOpens, d.AEADSeals+d.AEADOpens, "")
		row("crypto ops", c.CryptoOps, d.CryptoOps, "")
		row("energy mJ (estimate, "+r.Link+")", c.EnergyMJ, d.EnergyMJ, ra.PaperEnergy)
		row("  of which radio mJ", c.RadioMJ, d.RadioMJ, "")
		row("  of which CPU mJ", c.CPUMJ, d.CPUMJ, "")
		links := make([]string, 0, len(c.EnergyByLinkMJ))
		for l := range c.EnergyByLinkMJ {
			links = append(links, l)
		}
		sort.Strings(links)
		for _, l := range links {
			if l != r.Link {
				row("energy mJ ("+l+")", c.EnergyByLinkMJ[l], d.EnergyByLinkMJ[l], "")
			}
		}
		row(fig2[ph], c.Figure2Ms, d.Figure2Ms, "")
		if ph == "check" {
			fmt.Fprintf(w, "| members that detected it (of %d) | %.1f | %.1f | | |\n", c.Devices, c.Detected, d.Detected)
		}
		row("phase wall ms", c.WallMs, d.WallMs, "")
	}
	fmt.Fprintf(w, "\ndevice bytes over all phases, clone/direct: %s (paper %s)\n", ratio(r.BytesAll.Bytes, 1), r.BytesAll.PaperBytes)
	for _, m := range []string{"clone", "direct"} {
		l := r.Latency[m]
		fmt.Fprintf(w, "phase 1 delivery latency, %s mode: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (%d deliveries)\n", m, l.P50, l.P90, l.P99, l.Max, l.N)
	}
	fmt.Fprintf(w, "\n| goal | target | measured | met |\n|---|---|---:|---|\n")
	for _, gl := range r.Goals {
		met := "no"
		if gl.Met {
			met = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", gl.What, gl.Target, ratio(gl.Measured, 1), met)
	}
	fmt.Fprintln(w)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "# %s\n", n)
	}
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	q := a / b
	if q != 0 && q < 0.01 {
		return fmt.Sprintf("%.4f", q)
	}
	return fmt.Sprintf("%.3f", q)
}
