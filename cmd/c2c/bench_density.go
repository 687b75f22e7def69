package main

import (
	"fmt"
	"io"
	"time"

	"github.com/clone2clone/c2c/clonehost"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/spf13/cobra"
)

// densityFlags are c2c bench density's flags.
type densityFlags struct {
	clones, providers, devices int
	cloneDHT                   string
	cloneMirror, cloneTCP      bool
	connsHigh                  int
	pprofPort                  int     // provider i serves pprof on 127.0.0.1:pprofPort+i
	memoryLimits               []int64 // provider i's --memory-limit: value i, or the last (0: Go's default GC)
	idle, settle, timeout      time.Duration
	settleAfterEdit            time.Duration // quiet time between the edit and the second idle window
	idleConn                   time.Duration // c2c provider --clone-idle-conn
	sleepAfter                 time.Duration // c2c provider --clone-sleep-after
	startTimeout               time.Duration // 0: 100 ms a clone plus 2 minutes
	keep                       bool
	kill                       bool // the kill phase (bench_density_kill.go)
	killEditors, killAfter     int
}

// densityResult is what c2c bench density prints (field names from issue 16).
type densityResult struct {
	Clones           int     `json:"clones"`
	Live             int     `json:"live"`  // hosted and published at the end of the idle window
	Found            int     `json:"found"` // clones a lookup from another clone found
	RSSBytesPerClone float64 `json:"rss_bytes_per_clone"`
	IdleCPUPercent   float64 `json:"idle_cpu_percent"` // of one core, every provider process together
	IdleCPUS         float64 `json:"idle_cpu_s"`       // the providers' CPU seconds (user + system) over the idle window

	IdleCPUSByProvider []float64 `json:"idle_cpu_s_by_provider"` // the same, provider by provider
	RSSBytesByProvider []uint64  `json:"rss_bytes_by_provider"`  // each provider's RSS after the window
	StartS             float64   `json:"start_s"`                // first provider started -> every clone published

	Providers      int     `json:"providers"`
	MemoryLimits   []int64 `json:"provider_memory_limits,omitempty"` // bytes, provider i's --memory-limit (0: Go's default GC)
	CloneDHT       string  `json:"clone_dht"`
	CloneMirror    bool    `json:"clone_mirror"` // hosted clones run their mirrors (c2c provider --clone-mirror)
	CloneTCP       bool    `json:"clone_tcp"`    // hosted clones listen and dial on TCP too (c2c provider --clone-tcp)
	RSSBytes       uint64  `json:"rss_bytes"`    // every provider process together, after the idle window
	IdleWindowS    float64 `json:"idle_window_s"`
	SettleS        float64 `json:"settle_s"`            // quiet time before the first idle window
	IdleConnS      float64 `json:"clone_idle_conn_s"`   // c2c provider --clone-idle-conn (0: connections kept)
	SleepAfterS    float64 `json:"clone_sleep_after_s"` // c2c provider --clone-sleep-after (0: clones never sleep)
	Asleep         int     `json:"asleep"`              // clones asleep at the end of the first idle window
	ConnsPerClone  float64 `json:"conns_per_clone"`     // mean over clones, after the idle window
	LookupP50Ms    float64 `json:"lookup_p50_ms"`
	LookupP99Ms    float64 `json:"lookup_p99_ms"`
	Devices        int     `json:"devices"`         // devices that connected to their clone
	EditsDelivered int     `json:"edits_delivered"` // device edits that reached clone 0's text
	DocMembers     int     `json:"doc_members"`     // clones in the shared document

	// The same idle window again after the edit, with the document.
	IdleCPUAfterEditPercent   float64  `json:"idle_cpu_after_edit_percent"`
	IdleCPUSAfterEdit         float64  `json:"idle_cpu_s_after_edit"`
	RSSBytesPerCloneAfterEdit float64  `json:"rss_bytes_per_clone_after_edit"`
	ConnsPerCloneAfterEdit    float64  `json:"conns_per_clone_after_edit"`
	SettleAfterEditS          float64  `json:"settle_after_edit_s"`     // quiet time between the edit and that window
	DormantDocsAfterEdit      int      `json:"dormant_docs_after_edit"` // members at which the document was dormant at its end (cloneservice's dormant.go)
	Notes                     []string `json:"notes,omitempty"`

	*densityKillResult // with --kill only
}

func newBenchDensityCmd(g *globals) *cobra.Command {
	f := &densityFlags{}
	var cmd *cobra.Command
	cmd = newBenchReportCmd(g, "density [--clones N] [--providers P] [--json]",
		"Many clones per provider process: RSS per idle clone, idle CPU, start time, every record found",
		`density enrolls --clones clones (each of its own user, with a device key)
into the data dirs of --providers provider processes and starts them as
c2c provider --host-clones on 127.0.0.1, plus one sequencer process: the
same binary and code as an operator runs. Clone k lives in provider k mod P.

Then, in order:
  start   the time from the first provider's start until every hosted
          clone has published its record (start_s);
  found   every clone k is looked up from clone k+1 (a clone of another
          provider when P > 1) through that clone's own directory, via the
          providers' admin sockets (found, lookup p50/p99);
  idle    after --settle of quiet, nothing is sent for --idle, and the providers' CPU time over that
          window (from /proc) gives idle_cpu_percent, of one core, all
          providers together, and idle_cpu_s, those CPU seconds (less
          moved by other load on the machine than the percentage's
          wall-clock window); their RSS after it, divided by N, gives
          rss_bytes_per_clone (it includes the provider nodes themselves);
  edit    a sample of --devices clones (default min(100, N)) share one
          document created on clone 0; each sample clone's device (a
          c2c device process) connects to its clone and types one token,
          and the bench waits until clone 0's text holds every token;
  idle    after --settle-after-edit, the same window again, now with the
          document and its members (idle_cpu_after_edit_percent,
          rss_bytes_per_clone_after_edit); dormant_docs_after_edit counts
          the members at which the document went dormant, out of its
          topics' meshes, for nobody edits it.

With --kill, last:
  kill    --kill-editors of the sample's devices keep typing (c2c device
          type, one token a call; acknowledged when the call returned:
          the clone took the edit); once each has had --kill-after
          acknowledged, and while they keep typing, provider 0 is killed
          with SIGKILL and restarted on its data dir; they type until
          each has had an edit acknowledged after the restart; then
          every killed clone must be back under its own peer ID with its
          documents and published (back, restart_s: restart until every
          one is), found again by a lookup from another clone
          (found_after), and every acknowledged edit must be in the
          document, once, at every member (acked_edits, lost_edits).

--provider-memory-limit runs the providers with c2c provider --memory-limit:
the garbage collector on that soft limit, with no forced collection every
2 minutes (provider_memory_limits in the JSON). One value per provider
(1600MB,0) compares the two settings in the same run, under the same load:
idle_cpu_s_by_provider gives each provider's CPU seconds.

live is the clones still hosted and published after the last window.
Progress goes to stderr; the processes' logs stay in the bench's
temporary directory, whose path is printed (removed unless --keep).`,
		func() (*densityResult, error) { return runDensityBench(cmd.Context(), g, f) },
		printDensity)
	fl := cmd.Flags()
	fl.IntVar(&f.clones, "clones", 200, "clones in total")
	fl.IntVar(&f.providers, "providers", 2, "provider processes hosting them")
	fl.IntVar(&f.devices, "devices", -1, "devices that connect and edit the shared document (default min(100, clones))")
	fl.StringVar(&f.cloneDHT, "clone-dht", "client", "hosted clones' DHT mode: client or server (c2c provider --clone-dht)")
	fl.BoolVar(&f.cloneMirror, "clone-mirror", true, "hosted clones run their phones' mirrors (c2c provider --clone-mirror)")
	fl.BoolVar(&f.cloneTCP, "clone-tcp", false, "hosted clones also listen and dial on TCP (c2c provider --clone-tcp)")
	fl.IntVar(&f.connsHigh, "clone-conns-high", 0, "each clone's connection-manager high watermark (default c2c provider's)")
	fl.IntVar(&f.pprofPort, "pprof-port", 0, "provider i serves Go's profiling endpoints on 127.0.0.1:PORT+i (c2c provider --pprof), to profile the idle window with go tool pprof")
	fl.Var(sizeListFlag{&f.memoryLimits}, "provider-memory-limit", "provider processes' c2c provider --memory-limit (e.g. 1600MB; 0: Go's default garbage collector, GOGC=100): one value for all, or comma-separated, provider i taking value i (the last one for the rest), e.g. 1600MB,0 to compare the two in one run")
	fl.DurationVar(&f.idle, "idle", 30*time.Second, "the idle window CPU is measured over")
	idleConn := clonehost.DefaultParams().IdleConnTimeout
	fl.DurationVar(&f.idleConn, "clone-idle-conn", idleConn, "hosted clones close a connection that carried nothing this long (c2c provider --clone-idle-conn; 0: keep them)")
	sleepAfter := clonehost.DefaultParams().SleepAfter
	fl.DurationVar(&f.sleepAfter, "clone-sleep-after", sleepAfter, "hosted clones idle this long (no connection, no document) sleep until traffic wakes them (c2c provider --clone-sleep-after; 0: never)")
	fl.DurationVar(&f.settle, "settle", 2*idleConn+sleepAfter+30*time.Second, "quiet time before the first idle window: at least twice --clone-idle-conn plus --clone-sleep-after, for the clones to close what the start and the lookups left open and fall asleep (clones whose best-effort publications failed under the start's load retry them once a minute)")
	dormantAfter := cloneservice.DefaultParams().DormantAfter
	fl.DurationVar(&f.settleAfterEdit, "settle-after-edit", dormantAfter+2*idleConn+30*time.Second, "quiet time between the edit and the second idle window: the document's dormancy delay (cloneservice DormantAfter) plus twice --clone-idle-conn, for the members to leave its meshes and close their connections to each other")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
	fl.DurationVar(&f.startTimeout, "start-timeout", 0, "how long every clone has to publish (default 100 ms a clone plus 2 minutes; longer on a machine busy with other work)")
	fl.BoolVar(&f.keep, "keep", false, "keep the temporary directory (data dirs and logs)")
	fl.BoolVar(&f.kill, "kill", false, "last, kill provider 0 with SIGKILL while devices edit, restart it and check every clone and acknowledged edit")
	fl.IntVar(&f.killEditors, "kill-editors", 8, "--kill: devices of the sample that keep editing through the kill")
	fl.IntVar(&f.killAfter, "kill-after", 5, "--kill: edits each editing device has had acknowledged when the provider is killed")
	return cmd
}

func printDensity(w io.Writer, r *densityResult) {
	fmt.Fprintf(w, "%d clones in %d provider processes (clone DHT %s, mirrors %v, TCP %v), %d devices edited a document of %d clones\n",
		r.Clones, r.Providers, r.CloneDHT, r.CloneMirror, r.CloneTCP, r.Devices, r.DocMembers)
	for i, l := range r.MemoryLimits {
		gc := "Go's default garbage collector (GOGC=100)"
		if l > 0 {
			gc = fmt.Sprintf("garbage collector on a soft memory limit of %.0f MB (--memory-limit)", float64(l)/1e6)
		}
		fmt.Fprintf(w, "provider %d: %s\n", i, gc)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-40s %14s %10s\n", "figure", "value", "goal")
	fmt.Fprintf(w, "%-40s %14d %10s\n", "live clones", r.Live, fmt.Sprint(r.Clones))
	fmt.Fprintf(w, "%-40s %14d %10s\n", "asleep at the first window's end", r.Asleep, fmt.Sprint(r.Clones))
	fmt.Fprintf(w, "%-40s %14d %10s\n", "found by a lookup from another clone", r.Found, fmt.Sprint(r.Clones))
	fmt.Fprintf(w, "%-40s %11.2f MB %10s\n", "RSS per clone (providers' RSS / N)", r.RSSBytesPerClone/1e6, "<=2")
	fmt.Fprintf(w, "%-40s %12.2f %% %10s\n", fmt.Sprintf("idle CPU, one core, %.0f s after %.0f s", r.IdleWindowS, r.SettleS), r.IdleCPUPercent, "<=5 (2000)")
	fmt.Fprintf(w, "%-40s %12.2f s %10s\n", "providers' CPU time in that window", r.IdleCPUS, "")
	for i, c := range r.IdleCPUSByProvider {
		fmt.Fprintf(w, "%-40s %12.2f s %10s\n", fmt.Sprintf("  provider %d's", i), c, "")
	}
	for i, b := range r.RSSBytesByProvider {
		fmt.Fprintf(w, "%-40s %11.1f MB %10s\n", fmt.Sprintf("  provider %d's RSS", i), float64(b)/1e6, "")
	}
	fmt.Fprintf(w, "%-40s %12.1f s %10s\n", "start until every record published", r.StartS, "")
	fmt.Fprintf(w, "%-40s %11.1f MB %10s\n", "providers' RSS together", float64(r.RSSBytes)/1e6, "")
	fmt.Fprintf(w, "%-40s %14.1f %10s\n", "connections per clone", r.ConnsPerClone, "")
	fmt.Fprintf(w, "%-40s %11.1f ms %10s\n", "lookup p50", r.LookupP50Ms, "")
	fmt.Fprintf(w, "%-40s %11.1f ms %10s\n", "lookup p99", r.LookupP99Ms, "")
	fmt.Fprintf(w, "%-40s %14s %10s\n", "device edits delivered", fmt.Sprintf("%d/%d", r.EditsDelivered, r.Devices), "")
	if r.DocMembers > 0 {
		fmt.Fprintf(w, "%-40s %12.2f %% %10s\n", "idle CPU again, with the document", r.IdleCPUAfterEditPercent, "")
		fmt.Fprintf(w, "%-40s %11.2f MB %10s\n", "RSS per clone, with the document", r.RSSBytesPerCloneAfterEdit/1e6, "")
		fmt.Fprintf(w, "%-40s %14.1f %10s\n", "connections per clone, with it", r.ConnsPerCloneAfterEdit, "")
		fmt.Fprintf(w, "%-40s %14s %10s\n", fmt.Sprintf("members with it dormant, after %.0f s", r.SettleAfterEditS), fmt.Sprintf("%d/%d", r.DormantDocsAfterEdit, r.DocMembers), "")
	}
	if r.densityKillResult != nil {
		printDensityKill(w, r.densityKillResult)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "# %s\n", n)
	}
}
