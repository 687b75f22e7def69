// Command c2c-plan is the Testground test plan of c2c: the scenarios of
// package scenario (directory, docsync) run as Testground test cases, one
// instance per process, meeting through Testground's sync service.
// Instance 0 writes the run's summary.json and latency.png (the latency
// CDFs) into its outputs directory and fails the run when a pass criterion
// fails.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/clone2clone/c2c/scenario"
	"github.com/clone2clone/c2c/scenario/chart"
	"github.com/testground/sdk-go/run"
	"github.com/testground/sdk-go/runtime"
)

func main() {
	run.InvokeMap(map[string]interface{}{
		scenario.CaseDirectory: runCase(scenario.CaseDirectory, scenario.RunDirectory),
		scenario.CaseDocsync:   runCase(scenario.CaseDocsync, scenario.RunDocsync),
	})
}

type caseFn func(context.Context, *scenario.Env) ([]scenario.InstanceResult, error)

func runCase(name string, fn caseFn) run.InitializedTestCaseFn {
	return func(re *runtime.RunEnv, ic *run.InitContext) error {
		p := paramsOf(name, re)
		if err := p.Validate(); err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "c2c-tg-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		index := int(ic.GlobalSeq) - 1 // sequence numbers start at 1
		// Whole-run bound: the phases plus the measured duration, with room.
		ctx, cancel := context.WithTimeout(context.Background(), 6*p.Timeout+p.Duration+p.JoinOver)
		defer cancel()
		listen, err := prepareNetwork(ctx, re, ic.NetClient, p)
		if err != nil {
			return err
		}
		env := &scenario.Env{
			Index: index, Params: p, DataDir: dir, MeasureHeap: true,
			Sync:        &tgSync{client: ic.SyncClient, n: p.Instances},
			ListenAddrs: listen,
			Log:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("instance", index),
		}
		start := time.Now()
		results, err := fn(ctx, env)
		if err != nil {
			return fmt.Errorf("instance %d: %w", index, err)
		}
		if index != 0 {
			return nil
		}
		sum := scenario.Summarize(p, "testground", results)
		sum.WallSeconds = time.Since(start).Seconds()
		sum.VirtualSeconds = sum.WallSeconds
		raw, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(re.TestOutputsPath, "summary.json"), raw, 0o644); err != nil {
			return err
		}
		re.RecordMessage("summary: %s", summaryLine(sum))
		if err := chart.WritePNG(filepath.Join(re.TestOutputsPath, "latency.png"), sum); err != nil && !errors.Is(err, chart.ErrNoSamples) {
			return err
		}
		return sum.Check()
	}
}

// paramsOf reads the test case's parameters from the manifest.
func paramsOf(name string, re *runtime.RunEnv) scenario.Params {
	p := scenario.DefaultParams(name)
	p.Instances = re.TestInstanceCount
	ms := func(k string) time.Duration { return time.Duration(re.IntParam(k)) * time.Millisecond }
	sec := func(k string) time.Duration { return time.Duration(re.IntParam(k)) * time.Second }
	p.Latency = ms("latency_ms")
	p.Churn = re.FloatParam("churn")
	p.Duration = sec("duration_s")
	p.DownFor = sec("down_for_s")
	p.Timeout = sec("timeout_s")
	p.Seed = uint64(re.IntParam("seed"))
	p.JoinOver = sec("join_over_s")
	p.ConnsHigh = re.IntParam("conns_high")
	switch name {
	case scenario.CaseDirectory:
		p.Providers = re.IntParam("providers")
		p.LookupEvery = ms("lookup_every_ms")
		p.ServerClones = re.BooleanParam("server_clones")
	case scenario.CaseDocsync:
		p.EditEvery = ms("edit_every_ms")
		p.Fork = re.BooleanParam("fork")
		p.ForkAt = uint64(re.IntParam("fork_at"))
	}
	return p
}

func summaryLine(s *scenario.Summary) string {
	line := fmt.Sprintf("%s n=%d churned=%d rejoined=%d heap/node=%.1fMiB", s.Case, s.Params.Instances, s.Churned, s.Rejoined, s.MemoryPerNodeBytes/(1<<20))
	if l := s.Lookups; l != nil {
		line += fmt.Sprintf(" lookups=%d/%d p50=%.1fms p99=%.1fms", l.Succeeded, l.Attempted, l.Latency.P50, l.Latency.P99)
	}
	if e := s.Edits; e != nil {
		line += fmt.Sprintf(" deliveries=%d/%d converged=%d p50=%.1fms p99=%.1fms", e.Delivered, e.Expected, e.Converged, e.Latency.P50, e.Latency.P99)
	}
	if f := s.Fork; f != nil {
		line += fmt.Sprintf(" fork detected=%d/%d p50=%.1fms", f.Detected, f.Clones, f.Detection.P50)
	}
	return line
}
