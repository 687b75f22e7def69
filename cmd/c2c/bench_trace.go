package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/clone2clone/c2c/docsync/ot/trace"
	"github.com/spf13/cobra"
)

// traceResult is what c2c bench trace prints (field names from issue 13).
type traceResult struct {
	Trace     string `json:"trace"`
	Patches   int    `json:"patches"` // keystroke-sized edits typed on device A
	Receivers int    `json:"receivers"`
	// WallMs: from the first keystroke written to device A until the last
	// receiving device shows the final text.
	WallMs float64 `json:"wall_ms"`
	// TypedMs: until device A had applied (and written) every keystroke.
	TypedMs      float64  `json:"typed_ms"`
	BytesPerEdit float64  `json:"bytes_per_edit"` // on A's link, both ways, every protocol
	DeviceCPUMs  float64  `json:"device_cpu_ms"`  // device A's process
	Commits      int      `json:"commits"`        // device A's state writes (group commits)
	FinalMatches bool     `json:"final_matches"`  // every device's text equals endContent
	Notes        []string `json:"notes,omitempty"`
}

func newBenchTraceCmd(g *globals) *cobra.Command {
	var file string
	var cmd *cobra.Command // its context is cancelled by Ctrl-C or SIGTERM
	cmd = newBenchReportCmd(g, "trace [FILE] [--json]",
		"The automerge-paper trace typed on a device, through its clone and the sequencer to 4 other users' devices",
		`trace types an editing trace (default: the automerge-paper trace, found in
$C2C_TRACES or ../shared/data/traces beside the module) on device A in
keystroke-sized edits, one patch each, as fast as the device takes them.
The edits go through A's clone and the sequencer to 4 other clones and
their 4 devices; every clone, the sequencer and a provider run in this
process on 127.0.0.1 (as c2c bench latency sets them up), every device is
a c2c device stream process of its own.

It prints wall_ms, from the first keystroke until every device shows the
final text, the bytes on A's link per edit (both ways, every protocol
A's host speaks), and device A's CPU time, and checks that every device's
text equals the trace's endContent. Without the trace it says so and
exits 0.

The automerge-paper trace: "A Conflict-Free Replicated JSON Datatype"
(Kleppmann & Beresford) as it was written, recorded by Martin Kleppmann,
redistributed by Joseph Gentle in editing-traces; CC BY 4.0. Attribute it
wherever figures from it are published.`,
		func() (*traceResult, error) { return runTraceBench(cmd.Context(), g, file) },
		printTrace)
	cmd.Args = cobra.MaximumNArgs(1)
	cmd.PreRunE = func(_ *cobra.Command, args []string) error {
		if len(args) == 1 {
			file = args[0]
		}
		return nil
	}
	return cmd
}

func printTrace(w io.Writer, r *traceResult) {
	if r.Patches == 0 {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "# %s\n", n)
		}
		return
	}
	fmt.Fprintf(w, "%s: %d patches typed on device A, %d receiving devices\n\n", r.Trace, r.Patches, r.Receivers)
	fmt.Fprintf(w, "%-44s %12s %10s\n", "figure", "value", "goal")
	fmt.Fprintf(w, "%-44s %9.0f ms %10s\n", "wall: first keystroke -> every device final", r.WallMs, "<=1000")
	fmt.Fprintf(w, "%-44s %9.0f ms %10s\n", "device A typed every keystroke", r.TypedMs, "")
	fmt.Fprintf(w, "%-44s %12.2f %10s\n", "bytes per edit on A's link", r.BytesPerEdit, "")
	fmt.Fprintf(w, "%-44s %9.0f ms %10s\n", "device A CPU", r.DeviceCPUMs, "")
	fmt.Fprintf(w, "%-44s %12d %10s\n", "device A state writes (group commits)", r.Commits, "")
	fmt.Fprintf(w, "%-44s %12s %10s\n", "every device's text equals endContent", yesNo(r.FinalMatches), "yes")
	for _, n := range r.Notes {
		fmt.Fprintf(w, "# %s\n", n)
	}
}

func runTraceBench(ctx context.Context, g *globals, file string) (*traceResult, error) {
	if file == "" {
		p, err := trace.Find()
		if errors.Is(err, trace.ErrNotFound) {
			return &traceResult{Notes: []string{"skipped: " + err.Error()}}, nil
		}
		if err != nil {
			return nil, err
		}
		file = p
	}
	tr, err := trace.Load(file)
	if err != nil {
		return nil, err
	}
	if tr.Start != "" {
		return nil, fmt.Errorf("%s: the bench types into an empty document; this trace starts with %d bytes", file, len(tr.Start))
	}
	const receivers = 4
	f := &latencyFlags{clones: receivers + 1, devices: receivers + 1, providers: 1, timeout: 5 * time.Minute}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	res := &traceResult{Trace: filepath.Base(file), Patches: len(tr.Patches), Receivers: receivers}
	err = withLatencyNet(ctx, g, f, "trace", func(r *latencyRun) error { return runTrace(ctx, r, tr, res) })
	if err != nil {
		return nil, err
	}
	res.Notes = append(res.Notes,
		"trace: automerge-paper (Kleppmann & Beresford's paper as written; recorded by M. Kleppmann, editing-traces by J. Gentle), CC BY 4.0",
		"keystrokes that arrive while device A writes its state are written and sent together (group commit)",
		"wall time depends on the machine's load: compare runs on a quiet machine")
	return res, nil
}

// runTrace types tr on device 0 and waits for every device's final text.
func runTrace(ctx context.Context, r *latencyRun, tr *trace.Trace, res *traceResult) error {
	_, _, doc, err := r.shareDoc(ctx)
	if err != nil {
		return err
	}
	final := filepath.Join(r.base, "endContent")
	if err := os.WriteFile(final, []byte(tr.End), 0o600); err != nil {
		return err
	}
	var mu sync.Mutex
	done := map[int]time.Time{}
	lines := map[int]streamLine{}
	err = r.startDevicesWith(ctx, doc, func(k int) func(time.Time, streamLine) {
		return func(at time.Time, l streamLine) {
			if l.Done {
				mu.Lock()
				done[k], lines[k] = at, l
				mu.Unlock()
			}
		}
	}, func(int) []string { return []string{"--until", final} })
	if err != nil {
		return err
	}
	for k := 1; k < len(r.devices); k++ {
		r.devices[k].stdin.Close() // receivers only watch
	}
	a := r.devices[0]
	r.say("typing %d patches on device A", len(tr.Patches))
	t0 := time.Now()
	enc := json.NewEncoder(a.stdin)
	for _, p := range tr.Patches {
		if err := enc.Encode(patch{Pos: p.Pos, Del: p.Del, Ins: p.Ins}); err != nil {
			return fmt.Errorf("device A's input: %w", err)
		}
	}
	a.stdin.Close()
	for k, dev := range r.devices {
		if _, err := dev.await(ctx, dev.done, "the final text", 4*time.Minute); err != nil {
			return fmt.Errorf("device %d: %w", k, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	res.FinalMatches = true
	for k := range r.devices {
		if !lines[k].Matches {
			res.FinalMatches = false
		}
		if k > 0 {
			res.WallMs = max(res.WallMs, ms(done[k].Sub(t0)))
		}
	}
	la := lines[0]
	res.TypedMs = ms(done[0].Sub(t0))
	res.BytesPerEdit = float64(la.LinkOut+la.LinkIn) / float64(len(tr.Patches))
	res.DeviceCPUMs = la.CPUMs
	res.Commits = la.Commits
	if !res.FinalMatches {
		return errors.New("a device's final text differs from the trace's endContent")
	}
	return nil
}
