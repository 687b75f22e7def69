package main

import (
	"context"
	"time"

	"github.com/clone2clone/c2c/clonehost"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/node"
	"github.com/clone2clone/c2c/replication/downloader"
	"github.com/spf13/cobra"
)

// Files a running provider or clone writes into its data dir for scripts.
const (
	addrsFile = "addrs" // one /.../p2p/<id> multiaddr per line, written once listening
	readyFile = "ready" // the peer ID, written once joined (provider) or published (clone)
)

type serveFlags struct {
	listen        []string
	bootstrap     []string
	limitLoopback bool
	stallAfter    time.Duration // clone: cloneservice.Params.StallAfter
	dormantAfter  time.Duration // clone and hosted clones: cloneservice.Params.DormantAfter
	standby       string        // clone: the standby sequencer's /p2p multiaddr (cloneservice.WithStandby)
	// clone: cloneservice.Params.SnapshotEvery and KeepHistory
	snapshotEvery, keepHistory uint64
	// Downloads (a clone's): the largest file, and whether loopback and
	// private addresses may be fetched.
	downloadMax          uint64
	downloadAllowPrivate bool
	// Provider: host the clones enrolled under <data>/clones in this process.
	hostClones     bool
	cloneListenIP  string
	cloneDHT       string // "client" or "server"
	cloneMirror    bool   // run each hosted clone's mirror
	cloneTCP       bool   // hosted clones listen and dial on TCP too
	cloneConnsHigh int
	cloneIdleConn  time.Duration
	cloneSleep     time.Duration
	cloneWakes     float64
	cloneCapacity  int    // 0: twice the enrolled clones plus 16
	cloneMetrics   string // "per-clone" or "totals"
	pprof          string // provider: serve net/http/pprof on this address
	memoryLimit    int64  // provider: the GC's soft memory limit (applyMemoryLimit; 0: Go's default)
}

// downloadParams are the clone's downloader settings.
func (f *serveFlags) downloadParams() downloader.Params {
	p := downloader.DefaultParams()
	if f.downloadMax > 0 {
		p.MaxBytes = f.downloadMax
	}
	p.AllowPrivate = f.downloadAllowPrivate
	return p
}

func (f *serveFlags) register(cmd *cobra.Command, defaultListen []string, bootstrapHelp string) {
	cmd.Flags().StringSliceVar(&f.listen, "listen", defaultListen, "listen multiaddrs (TCP and QUIC), comma-separated or repeated")
	cmd.Flags().StringSliceVar(&f.bootstrap, "bootstrap", nil, bootstrapHelp)
	cmd.Flags().BoolVar(&f.limitLoopback, "limit-loopback", false,
		"apply the per-IP connection limits to 127.0.0.1 and ::1 too (exempt by default, for local networks; per-peer limits hold either way)")
	cmd.Flags().Uint64Var(&f.downloadMax, "download-max-bytes", 0, "clone: the largest file c2c device download fetches (default and most: 64 MiB, the blob transfer's cap)")
	cmd.Flags().BoolVar(&f.downloadAllowPrivate, "download-allow-private", false,
		"clone: let c2c device download fetch from addresses that are not public: loopback, private, link-local, carrier NAT, reserved (local testing; off on a provider)")
}

func newProviderCmd(g *globals) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "provider",
		Short: "Run a provider: DHT server, bootstrap node and full directory replica",
		Long: `provider runs a cloud provider's node: a publicly reachable server of the
private DHT, a bootstrap node for clones, and a full replica of the directory
that answers lookups when the DHT path fails. It also runs the one antivirus
engine of the process that its clones ask (c2c provider sigs).

It prints its peer ID and listen addresses, writes them (one /p2p multiaddr
per line) to <data>/addrs, writes <data>/ready once up, and stops cleanly on
SIGINT or SIGTERM. The identity and the DHT records live in <data> and
survive restarts.

With --host-clones it also runs every clone enrolled under <data>/clones
(one directory each, as c2c enroll --clone-data <data>/clones/NAME leaves
it) in this same process. Each hosted clone keeps its own peer ID (the one
its owner certificate names), its own device link, documents and control
socket (<data>/clones/NAME/control.sock, owner-only as with c2c clone), and
keeps its data under its own prefix of the provider's one datastore; all
of them draw on one resource budget. Hosted clones listen on QUIC only and
are DHT clients of the providers by default (--clone-dht); --clone-tcp adds
a TCP port each where UDP is blocked. Each writes addrs and, once
published, ready into its directory. The operator's socket
<data>/clonehost.sock (0600) lists, enrols, stops, starts, removes, exports
and imports them while the provider runs: see c2c provider clones --help.
With --metrics the endpoint also has the hosted clones' connections,
documents, devices and a memory estimate, per clone labelled by its name
(--clone-metrics per-clone) or only their totals. Each runs its phone's
mirror as c2c clone does (files, inbox and outbox, downloads, scans;
--clone-mirror=false leaves it out), with the provider's one scan engine
for all of them.

` + envHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), g, node.RoleProvider, f)
		},
	}
	f.register(cmd, []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"},
		"the other providers' /p2p multiaddrs, comma-separated or repeated")
	fl := cmd.Flags()
	fl.BoolVar(&f.hostClones, "host-clones", false,
		"also run, in this process, every clone enrolled under <data>/clones/NAME (c2c enroll --clone-data <data>/clones/NAME); see below")
	fl.StringVar(&f.cloneListenIP, "clone-listen-ip", "", "--host-clones: the IPv4 address hosted clones listen on (QUIC, one random port each; default: the address of the first --listen)")
	fl.BoolVar(&f.cloneTCP, "clone-tcp", false, "--host-clones: hosted clones also listen (a TCP port each, on --clone-listen-ip) and dial on TCP, for devices and peers whose networks block UDP (default QUIC only)")
	fl.BoolVar(&f.cloneMirror, "clone-mirror", true, "--host-clones: run each hosted clone's mirror of its phone (files, inbox/outbox, downloads, scans)")
	fl.StringVar(&f.cloneDHT, "clone-dht", "client", "--host-clones: hosted clones' DHT mode: client (of the providers, whose DHT servers hold the records) or server")
	fl.IntVar(&f.cloneConnsHigh, "clone-conns-high", clonehost.DefaultParams().ConnsHigh, "--host-clones: each hosted clone's connection-manager high watermark (low is a quarter)")
	fl.DurationVar(&f.cloneSleep, "clone-sleep-after", clonehost.DefaultParams().SleepAfter, "--host-clones: close a published hosted clone that has held no connection and no document for this long, holding its UDP port and control socket until traffic starts it again (0: never; clones with --clone-tcp never sleep)")
	fl.Float64Var(&f.cloneWakes, "clone-wakes-per-second", clonehost.DefaultParams().WakesPerSecond, "--host-clones: the most sleeping clones that datagrams may start per second, all together (twice that in a burst; more are dropped and their dialers resend; 0: no bound)")
	fl.DurationVar(&f.dormantAfter, "clone-dormant-after", cloneservice.DefaultParams().DormantAfter, "--host-clones: a hosted clone leaves the gossip meshes of a document that has had no new entry and nothing under way at it for this long, keeping only the sequencer's feed, until the next entry or edit (0: never)")
	fl.DurationVar(&f.cloneIdleConn, "clone-idle-conn", clonehost.DefaultParams().IdleConnTimeout, "--host-clones: close a hosted clone's connection once it has carried nothing for this long, so that an idle clone holds none (0: keep them)")
	fl.IntVar(&f.cloneCapacity, "clone-capacity", 0, "--host-clones: the most clones the provider holds, enrolled, imported or stopped (sizes the shared per-peer limits; default twice those enrolled at start plus 16)")
	fl.StringVar(&f.cloneMetrics, "clone-metrics", "per-clone", "--host-clones with --metrics: per-clone (4 series per clone, labelled clone=NAME) or totals (the sums only)")
	fl.Var(sizeFlag{&f.memoryLimit}, "memory-limit", memoryLimitHelp)
	fl.StringVar(&f.pprof, "pprof", "", "serve Go's profiling endpoints on http://ADDR/debug/pprof/ (e.g. 127.0.0.1:6060; keep it on loopback), for go tool pprof http://ADDR/debug/pprof/profile?seconds=30")
	cmd.AddCommand(newProviderSigsCmd(g), newProviderClonesCmd(g))
	return cmd
}

func newCloneCmd(g *globals) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "clone --bootstrap PROVIDER_ADDR",
		Short: "Run a clone enrolled by c2c enroll",
		Long: `clone runs the always-on clone of one device. Its data dir must hold the owner
certificate written by c2c enroll; without one it refuses to start and says
what to run. On boot it joins through the --bootstrap providers (retrying
with backoff, and rejoining if they restart), publishes its certificate in
the directory and keeps it fresh.

A sequencer that withholds (no entry for a submitted envelope, missing
entries it does not serve, or a head that stops while another member
says, in a signed claim, that its envelope waits) raises a "sequencer
stalled" alarm after --stall-after; it clears when the sequencer
resumes. With --standby-sequencer, a document this clone administers
moves to that sequencer by itself when its stalled alarm is up (a
takeover: members that are not admins follow the signed move); without
it, an admin moves it with c2c doc move. A sequencer that forks, tampers
with an entry or forges a seq
leaves evidence, kept in the data dir before the alarm is raised (c2c doc
evidence exports it); the document stops until an admin recovers it onto
another sequencer (c2c doc move), which --standby-sequencer also does by
itself: from the last seq every member's chain shares, every member
rolling back to it and resending its own edits.

Every --snapshot-every committed entries of a document the clone seals a
signed snapshot, encrypted under the document key, and deletes the log
before the last --keep-history entries in the same synced write; members
it invites join from its snapshot and the tail instead of replaying the
whole log (docs/snapshots.md).

It also runs the clone's CloneDoc document service and its control socket,
<data>/control.sock (mode 0600: only the owner's OS user can use it), which
c2c doc talks to.

It prints its peer ID and listen addresses, writes them to <data>/addrs,
writes <data>/ready once its certificate is published, and stops cleanly on
SIGINT or SIGTERM.

` + envHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), g, node.RoleClone, f)
		},
	}
	f.register(cmd, []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"},
		"providers' /p2p multiaddrs, comma-separated or repeated (required)")
	cmd.Flags().DurationVar(&f.stallAfter, "stall-after", cloneservice.DefaultParams().StallAfter,
		"raise the sequencer-stalled alarm when a document's sequencer has withheld this long (no entry for a submitted envelope, missing entries not served, a member's signed claim of waiting while the head does not move)")
	cmd.Flags().StringVar(&f.standby, "standby-sequencer", "",
		"the /p2p multiaddr of a standby sequencer: documents this clone administers move to it when their stalled, fork or misbehaviour alarm is up")
	cmd.Flags().DurationVar(&f.dormantAfter, "dormant-after", cloneservice.DefaultParams().DormantAfter,
		"leave the gossip meshes of a document that has had no new entry and nothing under way at this clone for this long, keeping only the sequencer's feed, until the next entry or edit (0: never)")
	cmd.Flags().Uint64Var(&f.snapshotEvery, "snapshot-every", cloneservice.DefaultParams().SnapshotEvery,
		"seal a snapshot of a document every this many committed entries (0: never, and never compact)")
	cmd.Flags().Uint64Var(&f.keepHistory, "keep-history", cloneservice.DefaultParams().KeepHistory,
		"entries of a document's log kept before its latest snapshot; older ones are deleted")
	return cmd
}

// serve runs a long-lived provider or clone until ctx is done (see
// serveRole: a clone also runs its document service and control socket).
func serve(ctx context.Context, g *globals, role node.Role, f *serveFlags) error {
	return serveRole(ctx, g, role, f)
}
