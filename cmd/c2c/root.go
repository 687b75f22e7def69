package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/clone2clone/c2c/internal/cli"
	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
)

// errSilent marks an error already reported to the user: run exits nonzero
// without printing it again.
var errSilent = errors.New("reported")

// globals are the flags every command has.
type globals struct {
	data     string
	logLevel string
	// logLevelSet is whether --log-level was given, on the command line
	// or as C2C_LOG_LEVEL (c2c demo shows its nodes' logs only then).
	logLevelSet bool
	metrics     string
	stdout      io.Writer
	stderr      io.Writer
	log         *slog.Logger
}

const envHelp = `Every flag can also be set by an environment variable named C2C_ and the
flag's name in upper case with dashes as underscores: --data is C2C_DATA,
--bootstrap is C2C_BOOTSTRAP, --log-level is C2C_LOG_LEVEL. A flag given on
the command line wins over the environment.`

// errVerdict makes a bench run with --check exit with status 2.
var errVerdict = errors.New("verdict failed")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		if errors.Is(err, errAlarm) {
			return 3 // c2c doc watch --until alarm
		}
		if errors.Is(err, errVerdict) {
			fmt.Fprintf(stderr, "c2c: %v\n", err)
			return 2 // c2c bench ... --check
		}
		if !errors.Is(err, errSilent) {
			fmt.Fprintf(stderr, "c2c: %v\n", err)
		}
		return 1
	}
	return 0
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "c2c",
		Short: "Clone2Clone: always-on cloud clones of phones that talk peer to peer",
		Long: `c2c runs every role of the Clone2Clone overlay from one binary.

A provider is a publicly reachable DHT server and full directory replica. A
clone runs for one device of one user; it is enrolled by the user's key
(c2c keygen, then c2c enroll) and publishes its signed owner certificate in
the directory on boot. c2c dir lookup finds a clone from a user ID, and
c2c demo runs a small network in one process. A sequencer orders the
encrypted edits of CloneDoc documents; c2c doc creates, shares and edits
documents on a running clone through its owner-only control socket.

` + envHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.ApplyEnv(cmd.Flags()); err != nil {
				return err
			}
			log, err := cli.NewLogger(g.logLevel, stderr)
			if err != nil {
				return err
			}
			g.log = log
			g.logLevelSet = cmd.Flags().Changed("log-level")
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.data, "data", "", "data directory (default: <user config dir>/c2c/<role>)")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error (logs go to stderr)")
	pf.StringVar(&g.metrics, "metrics", "", "serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9100); for commands that run nodes")
	root.AddCommand(
		newKeygenCmd(g),
		newEnrollCmd(g),
		newProviderCmd(g),
		newVerifyScanReportCmd(g),
		newCloneCmd(g),
		newSequencerCmd(g),
		newByzantineSequencerCmd(g),
		newDocCmd(g),
		newVerifyEvidenceCmd(g),
		newContactCmd(g),
		newDirCmd(g),
		newDemoCmd(g),
		newChartCmd(),
		newDeviceCmd(g),
		newMirrorCmd(g),
		newBenchCmd(g),
		newSimCmd(g),
	)
	return root
}

// dataDir is --data, or <user config dir>/c2c/<role>, made absolute.
func (g *globals) dataDir(role string) (string, error) {
	dir := g.data
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("no --data given and no user config dir: %w", err)
		}
		dir = filepath.Join(base, "c2c", role)
	}
	return filepath.Abs(dir)
}

// metricsRegistry returns a registry with the Go and process collectors and
// starts serving it if --metrics is set; it returns nil otherwise.
func (g *globals) metricsRegistry(ctx context.Context) (*prometheus.Registry, error) {
	if g.metrics == "" {
		return nil, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	addr, err := node.ServeMetrics(ctx, g.metrics, reg, g.log)
	if err != nil {
		return nil, err
	}
	g.log.Info("serving metrics", "url", "http://"+addr.String()+"/metrics")
	return reg, nil
}

// parseBootstrap turns /.../p2p/<id> multiaddrs (several per flag value,
// comma-separated) into address infos, merging addresses of the same peer.
func parseBootstrap(values []string) ([]peer.AddrInfo, error) {
	var addrs []ma.Multiaddr
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		a, err := ma.NewMultiaddr(v)
		if err != nil {
			return nil, fmt.Errorf("--bootstrap %q: %w", v, err)
		}
		addrs = append(addrs, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(addrs...)
	if err != nil {
		return nil, fmt.Errorf("--bootstrap: %w (each address must end in /p2p/<peer ID>)", err)
	}
	return infos, nil
}

func parseListen(values []string) ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(values))
	for _, v := range values {
		a, err := ma.NewMultiaddr(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("--listen %q: %w", v, err)
		}
		out = append(out, a)
	}
	return out, nil
}
