package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/internal/cli"
	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

type demoFlags struct {
	providers int
	clones    int
	timeout   time.Duration
	docs      bool
	mirror    bool
	duration  time.Duration
}

func newDemoCmd(g *globals) *cobra.Command {
	f := &demoFlags{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run providers, clones and sequencers on loopback in one process: directory and CloneDoc",
		Long: `demo starts --providers providers and --clones clones on 127.0.0.1 in this
process, with real nodes (TCP and QUIC, pebble datastores): every clone is
enrolled (two devices per user), joins through the providers and publishes
its owner certificate; then each record is looked up from another clone.
It prints how many records were found and the lookup latency p50/p99.

Then (unless --mirror=false) the mirror part: two phones, user 0's and
user 1's, each run the sync client against its clone's mirror (t_syn_int
250 ms, t_max 100 ms). Phone A writes files (the mirror replays them; an
identical file is stored once), then sends one to phone B with a single
outbox input: clone A delivers it to clone B over
/c2c/mirror/deliver/1.0.0, which relays it into phone B's inbox as a
network input. Then one byte of a file in phone A's mirror is corrupted
behind the core; it prints the batch that detected it and how many bytes
the resync moved against the full state's. Then the antivirus: provider 0
(every clone's first bootstrap, whose scanner they ask) signs a new
signature database, phone A stores EICAR at the end of a larger file and a
file a hash signature names, its clone scans them on arrival, c2c device
scan's report (signed by the clone, each verdict by the provider) is
verified, and clone B's question about a file phone A's clone had scanned
is answered from the provider's shared cache. Last, the lag every replay
measured against its bound t_syn_int + t_max.

Then (unless --docs=false) it starts a sequencer and the clones' document
services: clone 0 creates a document and invites every other clone through
the directory; all clones edit it concurrently for --duration while clone 0
removes the last clone mid-run and, at three quarters, moves the document
to a second sequencer (every member follows). It prints whether the clones
converged (same seq, chain head and text as the sequencer), the ops, the latency from
an edit at its author to its application at each other clone (p50/p99), and
the bytes per op: every byte written on a libp2p stream by any of the
demo's hosts during the editing window (go-libp2p's bandwidth counter,
all protocols; it includes gossipsub fan-out, heads and history fetches),
divided by the acknowledged edits; then clone 0 puts a selection on the
text, as its device would, and it prints how soon clone 1 saw it (presence:
clone to clone, sealed under the key epoch, never sequenced). Then, with
nobody editing, every member puts the document to sleep after 4 s (in
the demo; c2c clone --dormant-after defaults to 1m): it leaves the
document's gossipsub meshes and stops its head gossip and ticks. An edit
at clone 0 wakes them, and it prints how soon the edit was at every
member. Last, a
third sequencer equivocates on a document shared by 6 clones while they
edit; it prints which clones raised the fork alarm and how long after the
first forked entry. Then clone 0 recovers the document onto a standby
sequencer (c2c doc move's path on a forked document: a takeover from the
last seq every branch shares; the clones on either branch roll back to
it and resend their own edits) while the clones keep editing, and it
prints the recovery time (from the move to every clone on the standby),
the clones that rolled back, and the acknowledged edits before and after
the recovery, each checked to be in the converged text exactly once.

It exits nonzero if a record is missing, the clones do not converge, an
acknowledged edit is missing or duplicated, a selection does not reach
the other clone, a member does not go dormant or misses the waking edit,
a clone misses the alarm, or the recovery after it loses
or duplicates an acknowledged edit.

Data dirs go under --data if given, else a temporary directory that is
removed afterwards, all but the log.

The nodes log to demo.log in that directory (the first line printed gives
its path) at --log-level, info by default. Only when --log-level is given,
on the command line or as C2C_LOG_LEVEL, do those logs also go to stderr,
at that level: --log-level info shows there what the file gets by default,
--log-level error only the errors, such as the clones' fork alarms. The
summary, and the alarms it reports, go to stdout either way.

` + envHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), g, f) },
	}
	cmd.Flags().IntVar(&f.providers, "providers", 3, "number of providers")
	cmd.Flags().IntVar(&f.clones, "clones", 16, "number of clones")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this long")
	cmd.Flags().BoolVar(&f.mirror, "mirror", true, "also run the mirror part (two phones: files, send through outbox and inbox, a repaired divergence, the lag)")
	cmd.Flags().BoolVar(&f.docs, "docs", true, "also run the CloneDoc part (sequencer, concurrent edits, forking sequencer and the recovery from it)")
	cmd.Flags().DurationVar(&f.duration, "duration", 4*time.Second, "how long the clones edit the shared document")
	return cmd
}

// demoClone is one enrolled clone of the demo and the node running it.
type demoClone struct {
	user   peer.ID
	device string
	node   *node.Node
}

func runDemo(ctx context.Context, g *globals, f *demoFlags) (err error) {
	if f.providers < 1 || f.clones < 2 {
		return errors.New("demo needs at least 1 provider and 2 clones")
	}
	if f.docs && (f.clones < forkMembers || f.duration <= 0) {
		return fmt.Errorf("the CloneDoc demo needs at least %d clones and a positive --duration (or --docs=false)", forkMembers)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	base := g.data
	if base == "" {
		if base, err = os.MkdirTemp("", "c2c-demo-"); err != nil {
			return err
		}
		defer removeAllBut(base, demoLogFile)
	}
	if base, err = filepath.Abs(base); err != nil {
		return err
	}
	nodeLog, logFile, err := g.demoLogger(filepath.Join(base, demoLogFile))
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(g.stdout, "[%5.1fs] the nodes log to %s\n", time.Since(start).Seconds(), logFile.Name())
	// Every host reports the bytes of its streams here (bytes per op).
	bwc := metrics.NewBandwidthCounter()
	opts := []node.Option{node.WithLogger(nodeLog), node.WithLibp2pOptions(libp2p.BandwidthReporter(bwc))}
	reg, err := g.metricsRegistry(ctx)
	if err != nil {
		return err
	}
	if reg != nil {
		opts = append(opts, node.WithMetrics(reg))
	}

	net := &demoNet{scanLog: nodeLog, hosted: true}
	defer func() {
		if cerr := net.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := startDemoNet(ctx, net, base, f.providers, f.clones, opts); err != nil {
		return err
	}
	clones, devKeys, users, boot := net.clones, net.devKeys, net.users, net.boot
	published := time.Since(start)
	fmt.Fprintf(g.stdout, "[%5.1fs] %d providers and %d clones up, every owner certificate published\n", published.Seconds(), f.providers, f.clones)

	found := 0
	var latencies []time.Duration
	for i, c := range clones {
		from := clones[(i+1)%len(clones)].node
		t0 := time.Now()
		cert, err := from.Directory().Lookup(ctx, c.user, c.device)
		lat := time.Since(t0)
		if err != nil {
			g.log.Warn("lookup failed", "user", c.user, "device", c.device, "err", err)
			continue
		}
		if cert.Clone != c.node.ID() {
			g.log.Warn("lookup returned another clone", "user", c.user, "device", c.device, "got", cert.Clone, "want", c.node.ID())
			continue
		}
		found++
		latencies = append(latencies, lat)
	}
	w := g.stdout
	fmt.Fprintf(w, "c2c demo: %d providers, %d clones on 127.0.0.1 (%d users x 2 devices)\n", f.providers, f.clones, len(users))
	fmt.Fprintf(w, "  %-28s %v\n", "all records published after", published.Round(time.Millisecond))
	fmt.Fprintf(w, "  %-28s %d/%d\n", "records found", found, len(clones))
	fmt.Fprintf(w, "  %-28s %v\n", "lookup latency p50", percentile(latencies, 0.50))
	fmt.Fprintf(w, "  %-28s %v\n", "lookup latency p99", percentile(latencies, 0.99))
	if found != len(clones) {
		return fmt.Errorf("only %d of %d records found", found, len(clones))
	}
	if f.mirror {
		if f.clones < 3 {
			return errors.New("the mirror demo needs at least 3 clones (or --mirror=false)")
		}
		if err := runMirrorDemo(ctx, nodeLog, w, start, base, clones, devKeys, net.scanners[0]); err != nil {
			return err
		}
	}
	if !f.docs {
		return nil
	}
	d := &docDemo{g: g, w: w, start: start, base: base, boot: boot, opts: opts, bwc: bwc, clones: clones,
		closeAll: func(n *node.Node) { net.nodes = append(net.nodes, n) }, duration: f.duration}
	// The demo's users know each other: each clone accepts invitations
	// from all of them.
	if err := net.contactsAll(base); err != nil {
		return err
	}
	for _, c := range clones {
		svc, err := c.node.StartDocs(cloneservice.WithParams(demoDocParams()))
		if err != nil {
			return err
		}
		d.svcs = append(d.svcs, svc)
	}
	if err := d.run(ctx); err != nil {
		return err
	}
	if err := d.fork(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "[%5.1fs] demo done\n", time.Since(start).Seconds())
	return nil
}

// demoLogFile is the file in the demo's data dir that its nodes log to.
const demoLogFile = "demo.log"

// demoLogger creates the log file at path and returns the logger of the
// demo's nodes: it writes to the file and, if --log-level was given, to
// stderr too, at --log-level.
func (g *globals) demoLogger(path string) (*slog.Logger, *os.File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	var w io.Writer = f
	if g.logLevelSet {
		w = io.MultiWriter(f, g.stderr)
	}
	log, err := cli.NewLogger(g.logLevel, w)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return log, f, nil
}

// removeAllBut removes everything in dir but the file keep (errors are
// ignored, as for a temporary directory).
func removeAllBut(dir, keep string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != keep {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// percentile is the nearest-rank q-quantile of ds (0 when ds is empty).
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(rank, 0)].Round(time.Microsecond)
}
