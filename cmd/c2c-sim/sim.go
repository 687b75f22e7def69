package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/clone2clone/c2c/internal/cli"
	"github.com/clone2clone/c2c/internal/procstat"
	"github.com/clone2clone/c2c/scenario"
	"github.com/clone2clone/c2c/scenario/chart"
	"github.com/clone2clone/c2c/scenario/insim"
	"github.com/spf13/cobra"
)

const envHelp = `Every flag can also be set by an environment variable named C2C_ and the
flag's name in upper case with dashes as underscores: --instances is
C2C_INSTANCES, --log-level is C2C_LOG_LEVEL. A flag given on the command
line wins over the environment.`

func newSimCmd(stdout, stderr io.Writer) *cobra.Command {
	var p scenario.Params
	var out, logLevel string
	var noCheck, nodeLogs, quiet bool
	var heapProfile, cpuProfile, pprofAddr string
	var log *slog.Logger
	cmd := &cobra.Command{
		Use:   "c2c-sim directory|docsync",
		Short: "Run a scale scenario in one process on a simulated network (virtual time)",
		Long: `c2c-sim runs a scenario of the Testground plans (testground/) in this process:
every instance is a goroutine, every host sits on go-libp2p's simulated
network, and time is virtual (testing/synctest), so latencies are those of
the links and the protocol, not of this machine's CPU.

  directory  --providers providers and the rest clones; every clone publishes
             its owner certificate, then looks up random clones' records for
             --duration while --churn of the clones leave and come back
  docsync    a sequencer and clones editing one document for --duration under
             churn (past 256 clones, a document's member cap, the clones
             split into several documents of equal size on the sequencer);
             --fork makes the sequencer equivocate and measures how long
             the clones take to raise the fork alarm

It writes a JSON summary (lookup and edit-delivery latency percentiles,
delivery completeness, fork detection time, memory and peers per node, raw
samples, the bytes all hosts sent in each phase by protocol and, for
gossipsub, by topic) to --out/sim-CASE-nN.json and the latency CDFs to
sim-CASE-nN.png beside it, and exits nonzero when a pass criterion fails:
lookups succeed >= 99%, every acknowledged edit reaches every clone, every
clone detects a fork. Progress goes to stderr, one line per phase (with
the bytes it sent and the signatures verified and found cached) and, in
runs of 200 instances or more, one line every 10 s of virtual time with
the clones started and published, what the providers hold (connections,
records, gets served) and the bytes sent in those 10 s. --pprof serves
live profiles (goroutines, CPU of a window) of a long run.

Clones are hosted as c2c provider --host-clones hosts them: DHT clients of
the providers (--server-clones for DHT servers, as a c2c clone process is),
and clone k shares the pebble datastore and resource budget of provider
k mod --providers. c2c sim runs this binary too.

Large runs: memory grows with the hosts and the connections each holds
(40-70 KB of QUIC and TLS state per connection; a hosted clone holds one
per provider). The GC's soft limit is set to 3/4 of RAM unless GOMEMLIMIT
is set; docs/scale.md has the measured figures for 1000 instances and
a 10,000-instance attempt.

` + envHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ExactArgs(1),
		ValidArgs:     []string{scenario.CaseDirectory, scenario.CaseDocsync},
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			if err := cli.ApplyEnv(cmd.Flags()); err != nil {
				return err
			}
			log, err = cli.NewLogger(logLevel, stderr)
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			d := scenario.DefaultParams(args[0])
			apply(cmd, &p, d)
			p.Case = args[0]
			o := insim.Options{HeapProfile: heapProfile}
			if nodeLogs { // nodes are quiet unless asked
				o.Log = log
			}
			if !quiet {
				o.Progress = cmd.ErrOrStderr()
			}
			if limit := simMemoryLimit(); limit > 0 && !quiet {
				fmt.Fprintf(cmd.ErrOrStderr(), "sim: GC memory limit %.1f GiB (3/4 of RAM; set GOMEMLIMIT to change)\n", float64(limit)/(1<<30))
			}
			if heapProfile != "" { // fail now, not after a 30-minute run
				f, err := os.Create(heapProfile)
				if err != nil {
					return err
				}
				f.Close()
			}
			if pprofAddr != "" { // outside the bubble: it serves on the real network
				addr, err := cli.ServePprof(cmd.Context(), pprofAddr, log)
				if err != nil {
					return err
				}
				if !quiet {
					fmt.Fprintf(cmd.ErrOrStderr(), "sim: pprof on http://%s/debug/pprof/\n", addr)
				}
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				o.BeforeExit = pprof.StopCPUProfile // Main exits the process: no defer runs
			}
			go func() { // Main cannot be cancelled: an interrupt ends the process
				<-cmd.Context().Done()
				fmt.Fprintln(cmd.ErrOrStderr(), "c2c-sim: interrupted")
				os.Exit(130)
			}()
			insim.Main(p, o, func(sum *scenario.Summary, err error) error {
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "c2c-sim: %v\n", err)
					return err
				}
				path, err := writeSummary(sum, out)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "c2c-sim: %v\n", err)
					return err
				}
				printSim(cmd, sum, path)
				png := strings.TrimSuffix(path, ".json") + ".png"
				switch err := chart.WritePNG(png, sum); {
				case err == nil:
					fmt.Fprintf(cmd.OutOrStdout(), "chart: %s\n", png)
				case errors.Is(err, chart.ErrNoSamples):
					fmt.Fprintf(cmd.OutOrStdout(), "chart: none (no latency sample)\n")
				default:
					fmt.Fprintf(cmd.ErrOrStderr(), "c2c-sim: %v\n", err)
					return err
				}
				if err := sum.Check(); err != nil && !noCheck {
					fmt.Fprintf(cmd.ErrOrStderr(), "c2c-sim: %v\n", err)
					return err
				}
				return nil
			})
			return nil // not reached: Main exits
		},
	}
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	f := cmd.Flags()
	d := scenario.DefaultParams(scenario.CaseDirectory)
	f.IntVar(&p.Instances, "instances", d.Instances, "nodes in all: providers + clones, or sequencer + clones")
	f.IntVar(&p.Providers, "providers", d.Providers, "providers (directory)")
	f.DurationVar(&p.Latency, "latency", d.Latency, "one-way link latency")
	f.DurationVar(&p.DeliveryGrain, "delivery-grain", d.DeliveryGrain, "packets arrive on this grid of virtual time (latency rounded up to it), so that those sent together are received together; 0: exactly --latency")
	f.Float64Var(&p.Churn, "churn", d.Churn, "fraction of clones that leave and come back during the run")
	f.DurationVar(&p.Duration, "duration", d.Duration, "measured phase (default 60s directory, 30s docsync)")
	f.DurationVar(&p.DownFor, "down-for", d.DownFor, "how long a churned clone stays away (default 15s directory, 8s docsync)")
	f.DurationVar(&p.LookupEvery, "lookup-every", d.LookupEvery, "mean gap between two lookups of a clone")
	f.DurationVar(&p.EditEvery, "edit-every", d.EditEvery, "mean think time between two edits of a clone")
	f.BoolVar(&p.Fork, "fork", false, "docsync: the sequencer equivocates at --fork-at")
	f.Uint64Var(&p.ForkAt, "fork-at", d.ForkAt, "seq at which the forking sequencer splits the log")
	f.DurationVar(&p.Timeout, "timeout", d.Timeout, "bound of each phase (virtual time)")
	f.Uint64Var(&p.Seed, "seed", d.Seed, "seed of the run's random choices")
	f.DurationVar(&p.JoinOver, "join-over", 0, "spread the clones' start over this long (0: all at once); large runs use it to avoid a start-up peak")
	f.IntVar(&p.ConnsHigh, "conns-high", 0, "clones' connection-manager high watermark (0: the node default, 400); trims connections kad-dht does not protect")
	f.BoolVar(&p.ServerClones, "server-clones", false, "directory: clones are DHT servers, as a c2c clone process is, instead of DHT clients of the providers as c2c provider --host-clones runs them")
	f.StringVar(&out, "out", ".", "directory for the JSON summary")
	f.BoolVar(&nodeLogs, "node-logs", false, "let the nodes log (at --log-level)")
	f.StringVar(&logLevel, "log-level", "info", "log level of --node-logs: debug, info, warn or error (logs go to stderr)")
	f.BoolVar(&noCheck, "no-check", false, "exit 0 even if a pass criterion fails")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	f.StringVar(&cpuProfile, "cpu-profile", "", "write a pprof CPU profile of the whole run to this file")
	f.StringVar(&heapProfile, "heap-profile", "", "write a pprof heap profile to this file once every node is up")
	f.StringVar(&pprofAddr, "pprof", "", "serve Go's profiling endpoints on this address while the run goes on (e.g. 127.0.0.1:6060; keep it on loopback)")
	return cmd
}

// simMemoryLimit sets the GC's soft memory limit to 3/4 of the machine's
// RAM unless GOMEMLIMIT is set, and returns what it set (0: nothing). A
// large run's live heap is mostly connection state that lives as long as
// the run; with the default GOGC alone the heap may grow to twice that
// before a collection and the kernel kills the run first.
func simMemoryLimit() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	total, err := procstat.Meminfo("MemTotal")
	if err != nil || total == 0 {
		return 0
	}
	limit := int64(total / 4 * 3)
	debug.SetMemoryLimit(limit)
	return limit
}

// writeSummary writes s as JSON under dir and returns the file's path.
func writeSummary(s *scenario.Summary, dir string) (string, error) {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("sim-%s-n%d.json", s.Case, s.Params.Instances))
	return path, os.WriteFile(path, raw, 0o644)
}

// apply takes the case's defaults for the duration flags the user left alone.
func apply(cmd *cobra.Command, p *scenario.Params, d scenario.Params) {
	if !cmd.Flags().Changed("duration") {
		p.Duration = d.Duration
	}
	if !cmd.Flags().Changed("down-for") {
		p.DownFor = d.DownFor
	}
	if !cmd.Flags().Changed("edit-every") {
		p.EditEvery = d.EditEvery
	}
}

func printSim(cmd *cobra.Command, s *scenario.Summary, path string) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%s, %d instances (%d clones, %d churned, %d rejoined), %.0f s virtual in %.1f s wall, %.2f MiB heap per node\n",
		s.Case, s.Params.Instances, s.Clones, s.Churned, s.Rejoined, s.VirtualSeconds, s.WallSeconds, s.MemoryPerNodeBytes/(1<<20))
	fmt.Fprintf(w, "peers per node: %.0f when all were up, %.0f at the end, max %d\n", s.Peers.UpMean, s.Peers.EndMean, s.Peers.Max)
	if l := s.Lookups; l != nil {
		fmt.Fprintf(w, "lookups: %d/%d succeeded (%.2f%%), latency p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n",
			l.Succeeded, l.Attempted, 100*l.SuccessRate, l.Latency.P50, l.Latency.P90, l.Latency.P99, l.Latency.Max)
	}
	if e := s.Edits; e != nil && s.Params.Fork {
		fmt.Fprintf(w, "edits: %d acked (deliveries are not scored once the log forks)\n", e.Acked)
	} else if e != nil {
		fmt.Fprintf(w, "edits: %d acked, %d/%d deliveries (%.2f%%), %d/%d clones converged, latency p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n",
			e.Acked, e.Delivered, e.Expected, 100*e.Completeness, e.Converged, s.Clones, e.Latency.P50, e.Latency.P90, e.Latency.P99, e.Latency.Max)
	}
	if f := s.Fork; f != nil {
		fmt.Fprintf(w, "fork: %d/%d clones raised the alarm, detection p50 %.0f ms, max %.0f ms\n",
			f.Detected, f.Clones, f.Detection.P50, f.Detection.Max)
	}
	fmt.Fprintf(w, "summary: %s\n", path)
}
