package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
)

// latencyFlags are c2c bench latency's flags.
type latencyFlags struct {
	clones, devices, providers int
	sizes                      []int // --clones: the sizes of a series, run in turn
	runs                       int   // rounds of a series
	rate                       float64
	duration, timeout          time.Duration
	cpuProfile, mutexProfile   string // pprof files of the measured window
	allocProfile               string
	blockProfile               string
	execTrace                  string
	// datastores is "shared" (the clones share one pebble datastore and
	// one resource budget, as a provider's hosted clones do; "" too) or
	// "own" (each clone has its own, as a c2c clone process has).
	datastores string
	// memoryLimit is c2c provider's --memory-limit for this process (0:
	// Go's default collector).
	memoryLimit int64
}

// latencyResult is what c2c bench latency prints (field names from issue 13).
type latencyResult struct {
	Clones    int     `json:"clones"`
	Devices   int     `json:"devices"`
	Writers   int     `json:"writers"`
	DurationS float64 `json:"duration_s"`
	Edits     int64   `json:"edits"`   // acknowledged by a clone or typed on a device
	Entries   uint64  `json:"entries"` // committed in the window (edits batch into entries)

	// CloneP50Ms and CloneP99Ms: edit at a clone -> applied at each other
	// clone (the update event's time: the receiving clone's loop emits it
	// once the entry is durable and applied). CloneSeen is the same to
	// when the bench's subscriber goroutine received that event.
	CloneP50Ms     float64 `json:"clone_p50_ms"`
	CloneP99Ms     float64 `json:"clone_p99_ms"`
	CloneSeenP50Ms float64 `json:"clone_seen_p50_ms"`
	CloneSeenP99Ms float64 `json:"clone_seen_p99_ms"`
	CloneSamples   int     `json:"clone_samples"`
	// FirstReceiver is, per edit made at a clone, its latency to the
	// first other clone that applied it: the path (the author's clone,
	// the sequencer, one delivery). Fanout is the last receiver's latency
	// minus the first's: what the other receivers add after it. Both are
	// over the edits every other clone received.
	FirstReceiverP50Ms float64 `json:"first_receiver_p50_ms"`
	FirstReceiverP99Ms float64 `json:"first_receiver_p99_ms"`
	FanoutP50Ms        float64 `json:"fanout_p50_ms"`
	FanoutP99Ms        float64 `json:"fanout_p99_ms"`
	DeviceP50Ms        float64 `json:"device_p50_ms"` // keystroke on a device -> shown on another user's device
	DeviceP99Ms        float64 `json:"device_p99_ms"`
	DeviceSamples      int     `json:"device_samples"`

	EditsPerS        float64 `json:"edits_per_s"`
	CPUSeconds       float64 `json:"cpu_s"`               // the clones' process over the window
	CPUUsPerDelivery float64 `json:"cpu_us_per_delivery"` // cpu_s / (entries x receiving clones)
	// FloorCPUUsPerDelivery is the floor of cpu_us_per_delivery timed on
	// this machine in this run (deliveryFloor: two Ed25519 verifications,
	// an AEAD open, an OT apply); CPUOverFloor is the ratio of the two.
	FloorCPUUsPerDelivery float64 `json:"floor_cpu_us_per_delivery"`
	CPUOverFloor          float64 `json:"cpu_over_floor"`
	// UDPDatagramsPerDelivery is the machine's UDP datagrams sent over
	// the window (/proc/net/snmp: every process's, the device processes'
	// and anything else running included; each QUIC packet on loopback
	// once) per (entries x receiving clones); 0 where it cannot be read.
	UDPDatagramsPerDelivery float64 `json:"udp_datagrams_per_delivery"`
	// CPUStealShare is the share of the machine's CPU time (/proc/stat)
	// that the hypervisor gave to other guests over the window: a virtual
	// machine's CPUs then run slower than their cores, and the wall-clock
	// figures with them. 0 where it cannot be read.
	CPUStealShare float64 `json:"cpu_steal_share"`
	// The background work of the window that stalls every edit in
	// flight: the process's GC cycles, the share of its CPU the GC took,
	// what it allocated per delivery; and, over the pebble datastores of
	// the process's nodes, their memtable flushes, compactions and the
	// bytes their write-ahead logs took per delivery.
	GCCycles                 uint64  `json:"gc_cycles"`
	GCCPUShare               float64 `json:"gc_cpu_share"`
	AllocBytesPerDelivery    float64 `json:"alloc_bytes_per_delivery"`
	StoreFlushes             int64   `json:"store_flushes"`
	StoreCompactions         int64   `json:"store_compactions"`
	StoreWALBytesPerDelivery float64 `json:"store_wal_bytes_per_delivery"`
	// MemoryLimitBytes is --memory-limit (0: Go's default collector,
	// GOGC=100, or the environment's GOGC and GOMEMLIMIT); GoMemoryBytes
	// is the memory the Go runtime held at the window's end
	// (/memory/classes/total:bytes), what a looser collector costs.
	MemoryLimitBytes int64  `json:"memory_limit_bytes"`
	GoMemoryBytes    uint64 `json:"go_memory_bytes"`

	BytesPerEdit           float64            `json:"bytes_per_edit"` // every byte every host of the process sent
	BytesPerEditByProtocol map[string]float64 `json:"bytes_per_edit_by_protocol"`
	// MeshsubBytesPerEdit splits what gossipsub sent, per edit, by topic
	// ("doc/heads", the directory's topics) and part of the RPC ("message",
	// "ihave", "iwant", "idontwant", "graft", "prune", "subscribe") as the
	// routers' raw tracer saw it; "framing" is the length prefixes and
	// wrappers. Its sum is /meshsub's share of bytes_per_edit_by_protocol
	// without the stream's own negotiation.
	MeshsubBytesPerEdit map[string]float64 `json:"meshsub_bytes_per_edit"`
	// MeshsubMessagesPerS is, by topic, how many distinct messages
	// gossipsub carried per second of the window (each counted once,
	// however many hosts sent it).
	MeshsubMessagesPerS map[string]float64 `json:"meshsub_messages_per_s"`
	EntryBytes          float64            `json:"entry_bytes"`          // mean wire size of a committed entry
	FloorBytesPerEdit   float64            `json:"floor_bytes_per_edit"` // one copy of each entry to each other member

	Datastores string   `json:"datastores"` // "shared" (as a provider hosts clones) or "own" (one per clone)
	Converged  bool     `json:"converged"`
	Notes      []string `json:"notes,omitempty"`
}

func newBenchLatencyCmd(g *globals) *cobra.Command {
	f := &latencyFlags{}
	var cmd *cobra.Command // its context is cancelled by Ctrl-C or SIGTERM
	cmd = newBenchReportCmd(g, "latency [--clones N[,N...]] [--runs R] [--devices D] [--rate R] [--duration T] [--json]",
		"Edit latency in real time on loopback: clone to clone, device to device; CPU per delivery; bytes per edit against the floor",
		`latency runs a CloneDoc network on 127.0.0.1 in real time, with the same code
as c2c provider, c2c sequencer and c2c clone: --providers providers, one
sequencer and --clones clones in this process (real hosts: TCP and QUIC, dialing TCP first,
pebble with fsync), and --devices devices as separate processes
(c2c device stream), each the enrolled device of a clone of another user.
Clone 0 creates a document and invites every other clone; then for
--duration, 16 writers or as many as there are clones (the clones without a
device edit through the clone's API, each device's keystrokes are typed on
the device) insert unique tokens at --rate edits per second in total.

By default the clones share one pebble datastore and one resource budget,
as the clones that c2c provider --host-clones runs do: the datastore's
write-ahead log then commits what several clones store at once with one
fsync. --datastores own gives each clone a datastore of its own, as a
c2c clone process has, for comparison.

It prints the latency from an edit at one clone to its application at each
other clone (p50, p99; at the time the receiving clone emits the update,
once the entry is durable and applied, and beside it when the bench's
subscriber received that event), from a keystroke on a device to its display on each
other device, the edits per second, the process's CPU time per delivered
entry per receiving clone, and the bytes every host in the process sent per
edit (go-libp2p's bandwidth counter; by protocol) beside the floor: one copy
of each committed entry to each other member. Wall-clock figures depend on
the machine's load; CPU per delivery and bytes per edit less so. CPU per
delivery depends on the machine's speed: beside it is its floor timed on
this machine in the same run (two Ed25519 verifications, an
XChaCha20-Poly1305 open and an OT apply of an entry of the run's mean
size) and the ratio of the two.

The clone latency is split in two: to the first other clone that applied
an edit (the author's clone, the sequencer and one delivery) and from the
first to the last (what the other receivers add). Beside them are what
stalls every edit in flight: the GC cycles of the window, the GC's share
of the process's CPU and the bytes allocated per delivery, and the
flushes, compactions and write-ahead-log bytes per delivery of the
process's pebble datastores.

With several sizes (--clones 16,32) or --runs R, it runs each size in
turn, R rounds, each on a network of its own, and prints every run, the
median of each figure by size and, for each size after the first, the
median over the rounds of its figures over the first size's in the same
round, and in how many rounds its latency was within twice the first's.
This machine's speed can drift by a third within minutes: compare sizes
within rounds, not across separate commands.

It fails if the clones do not converge, or an edit is lost. Progress and the
path of the nodes' log go to stderr.`,
		func() (*latencyReport, error) {
			if f.datastores != "shared" && f.datastores != "own" {
				return nil, fmt.Errorf("--datastores %q: want shared or own", f.datastores)
			}
			if len(f.sizes) == 0 || f.runs < 1 {
				return nil, errors.New("need at least one --clones size and --runs >= 1")
			}
			series := len(f.sizes) > 1 || f.runs > 1
			if series && f.cpuProfile+f.mutexProfile+f.blockProfile+f.allocProfile+f.execTrace != "" {
				return nil, errors.New("profiles and traces are of one run: give one --clones size and --runs 1")
			}
			applyMemoryLimit(f.memoryLimit)
			return runLatencySeries(cmd.Context(), g, f)
		},
		printLatencyReport)
	fl := cmd.Flags()
	fl.IntSliceVar(&f.sizes, "clones", []int{16}, "clones in this process; several sizes (e.g. 16,32) run in turn and are compared")
	fl.IntVar(&f.runs, "runs", 1, "rounds of the sizes of --clones, run in turn; more than one prints each run, the medians and the ratios to the first size")
	fl.IntVar(&f.devices, "devices", 4, "devices, each a separate process on its own clone")
	fl.IntVar(&f.providers, "providers", 1, "providers (directory)")
	fl.Float64Var(&f.rate, "rate", 150, "edits per second, all writers together")
	fl.DurationVar(&f.duration, "duration", 4*time.Second, "how long the writers edit")
	fl.DurationVar(&f.timeout, "timeout", 3*time.Minute, "give up after this long")
	fl.StringVar(&f.datastores, "datastores", "shared", "shared: one pebble datastore for every clone, as a provider hosts them; own: one per clone")
	fl.Var(sizeFlag{&f.memoryLimit}, "memory-limit", "as c2c provider --memory-limit, for this process: "+memoryLimitHelp)
	fl.StringVar(&f.cpuProfile, "cpu-profile", "", "write a CPU profile of the editing window to this file")
	fl.StringVar(&f.mutexProfile, "mutex-profile", "", "write a mutex contention profile of the editing window to this file")
	fl.StringVar(&f.blockProfile, "block-profile", "", "write a blocking profile of the editing window to this file")
	fl.StringVar(&f.execTrace, "exec-trace", "", "write an execution trace of the editing window to this file (go tool trace FILE)")
	fl.StringVar(&f.allocProfile, "alloc-profile", "", "write the allocation profile at the editing window's end to this file, and at its start to FILE.start (pprof -diff_base FILE.start FILE)")
	return cmd
}

func printLatency(w io.Writer, r *latencyResult) {
	fmt.Fprintf(w, "%d clones (%s datastores), %d devices, %d writers, %.1f s: %d edits in %d entries, converged %s\n\n",
		r.Clones, r.Datastores, r.Devices, r.Writers, r.DurationS, r.Edits, r.Entries, yesNo(r.Converged))
	fmt.Fprintf(w, "%-40s %12s %10s\n", "figure", "value", "goal")
	fmt.Fprintf(w, "%-40s %9.1f ms %10s\n", "clone -> other clones p50", r.CloneP50Ms, "<=10")
	fmt.Fprintf(w, "%-40s %9.1f ms %10s\n", "clone -> other clones p99", r.CloneP99Ms, "<=50")
	fmt.Fprintf(w, "%-40s %9.1f ms %10s\n", "  seen by the bench's subscriber p50", r.CloneSeenP50Ms, "")
	fmt.Fprintf(w, "%-40s %9.1f ms %10s\n", "  seen by the bench's subscriber p99", r.CloneSeenP99Ms, "")
	fmt.Fprintf(w, "%-40s %9.1f ms %10s\n", "  to the first other clone p50", r.FirstReceiverP50Ms, "")
	fmt.Fprintf(w, "%-40s %9.1f ms %10s\n", "  to the first other clone p99", r.FirstReceiverP99Ms, "")
	fmt.Fprintf(w, "%-40s %9.1f ms %10s\n", "  first -> last other clone p50", r.FanoutP50Ms, "")
	fmt.Fprintf(w, "%-40s %9.1f ms %10s\n", "  first -> last other clone p99", r.FanoutP99Ms, "")
	fmt.Fprintf(w, "%-40s %9.1f ms %10s\n", "device -> other devices p50", r.DeviceP50Ms, "<=20")
	fmt.Fprintf(w, "%-40s %9.1f ms %10s\n", "device -> other devices p99", r.DeviceP99Ms, "")
	fmt.Fprintf(w, "%-40s %12.0f %10s\n", "edits per second", r.EditsPerS, "")
	fmt.Fprintf(w, "%-40s %9.0f us %10s\n", "CPU per delivery (entry x clone)", r.CPUUsPerDelivery, "<=300")
	fmt.Fprintf(w, "%-40s %9.0f us %10s\n", "  floor on this machine (2 sigs, AEAD, OT)", r.FloorCPUUsPerDelivery, "")
	fmt.Fprintf(w, "%-40s %11.2fx %10s\n", "  CPU per delivery / floor", r.CPUOverFloor, "")
	fmt.Fprintf(w, "%-40s %12.2f %10s\n", "UDP datagrams per delivery (machine)", r.UDPDatagramsPerDelivery, "")
	fmt.Fprintf(w, "%-40s %11.1f%% %10s\n", "CPU stolen by the hypervisor (machine)", 100*r.CPUStealShare, "")
	fmt.Fprintf(w, "%-40s %12d %10s\n", "GC cycles in the window", r.GCCycles, "")
	fmt.Fprintf(w, "%-40s %11.0f%% %10s\n", "  GC share of the CPU", 100*r.GCCPUShare, "")
	fmt.Fprintf(w, "%-40s %12.0f %10s\n", "  bytes allocated per delivery", r.AllocBytesPerDelivery, "")
	limit := "Go's default"
	if r.MemoryLimitBytes > 0 {
		limit = fmt.Sprintf("limit %.0f MiB", float64(r.MemoryLimitBytes)/(1<<20))
	}
	fmt.Fprintf(w, "%-40s %8.0f MiB %10s\n", "  Go memory at the end ("+limit+")", float64(r.GoMemoryBytes)/(1<<20), "")
	fmt.Fprintf(w, "%-40s %5d / %4d %10s\n", "pebble flushes / compactions", r.StoreFlushes, r.StoreCompactions, "")
	fmt.Fprintf(w, "%-40s %12.0f %10s\n", "  WAL bytes per delivery", r.StoreWALBytesPerDelivery, "")
	fmt.Fprintf(w, "%-40s %12.0f %10s\n", "bytes per edit, all hosts", r.BytesPerEdit, fmt.Sprintf("<=%.0f", 2*r.FloorBytesPerEdit))
	fmt.Fprintf(w, "%-40s %12.0f %10s\n", "floor: entry to each other member", r.FloorBytesPerEdit, "")
	fmt.Fprintf(w, "%-40s %12.0f %10s\n", "mean entry bytes", r.EntryBytes, "")
	for _, p := range sortedByValue(r.BytesPerEditByProtocol) {
		fmt.Fprintf(w, "  %-38s %12.0f\n", p, r.BytesPerEditByProtocol[p])
	}
	if len(r.MeshsubBytesPerEdit) > 0 {
		fmt.Fprintf(w, "\n%-40s %12s\n", "/meshsub by topic and part", "bytes/edit")
		for _, k := range sortedByValue(r.MeshsubBytesPerEdit) {
			fmt.Fprintf(w, "  %-38s %12.0f\n", k, r.MeshsubBytesPerEdit[k])
		}
		fmt.Fprintf(w, "%-40s %12s\n", "/meshsub distinct messages by topic", "per second")
		for _, k := range sortedByValue(r.MeshsubMessagesPerS) {
			fmt.Fprintf(w, "  %-38s %12.1f\n", k, r.MeshsubMessagesPerS[k])
		}
	}
	fmt.Fprintf(w, "\nsamples: %d clone pairs, %d device pairs\n", r.CloneSamples, r.DeviceSamples)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "# %s\n", n)
	}
}

// sortedByValue returns m's keys, largest value first.
func sortedByValue(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(m[b], m[a]) })
	return keys
}
