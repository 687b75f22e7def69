package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
)

// A series of c2c bench latency runs: every size of --clones in turn,
// --runs times, so that sizes are compared run by run on a machine whose
// speed drifts within minutes (docs/realtime.md).

// latencyReport is what c2c bench latency prints: one run's result as it
// is, or a series with its medians and its ratios to the first size.
type latencyReport struct {
	Sizes []int            `json:"sizes"`
	Runs  []*latencyResult `json:"runs"`
	// Median is, by number of clones, the median of each figure over its runs.
	Median map[string]latencySummary `json:"median"`
	// RatioToFirst is, by number of clones, the median over the rounds of
	// each figure over the first size's in the same round (the runs of a
	// round are back to back); WithinTwice counts the rounds where the
	// latency was at most twice the first size's.
	RatioToFirst map[string]latencySummary `json:"ratio_to_first,omitempty"`
	WithinTwice  map[string]roundsWithin   `json:"within_twice_of_first,omitempty"`
}

// latencySummary holds the figures a series compares.
type latencySummary struct {
	CloneP50Ms         float64 `json:"clone_p50_ms"`
	CloneP99Ms         float64 `json:"clone_p99_ms"`
	DeviceP50Ms        float64 `json:"device_p50_ms"`
	FirstReceiverP50Ms float64 `json:"first_receiver_p50_ms"`
	FanoutP50Ms        float64 `json:"fanout_p50_ms"`
	CPUUsPerDelivery   float64 `json:"cpu_us_per_delivery"`
	BytesOverFloor     float64 `json:"bytes_over_floor"`
}

// roundsWithin counts the rounds whose p50 and p99 were within twice the
// first size's.
type roundsWithin struct {
	CloneP50 int `json:"clone_p50"`
	CloneP99 int `json:"clone_p99"`
	Rounds   int `json:"rounds"`
}

// MarshalJSON prints a single run as its result alone, with the field
// names issue 13 gives.
func (r *latencyReport) MarshalJSON() ([]byte, error) {
	if len(r.Sizes) == 1 && len(r.Runs) == 1 {
		return json.Marshal(r.Runs[0])
	}
	type plain latencyReport
	return json.Marshal((*plain)(r))
}

func summarize(r *latencyResult) latencySummary {
	return latencySummary{CloneP50Ms: r.CloneP50Ms, CloneP99Ms: r.CloneP99Ms, DeviceP50Ms: r.DeviceP50Ms,
		FirstReceiverP50Ms: r.FirstReceiverP50Ms, FanoutP50Ms: r.FanoutP50Ms, CPUUsPerDelivery: r.CPUUsPerDelivery,
		BytesOverFloor: r.BytesPerEdit / max(r.FloorBytesPerEdit, 1)}
}

// fields lists a summary's figures in a fixed order, for medians and ratios.
func (s *latencySummary) fields() []*float64 {
	return []*float64{&s.CloneP50Ms, &s.CloneP99Ms, &s.DeviceP50Ms, &s.FirstReceiverP50Ms, &s.FanoutP50Ms, &s.CPUUsPerDelivery, &s.BytesOverFloor}
}

// medianOf is the median of each figure over ss.
func medianOf(ss []latencySummary) latencySummary {
	var m latencySummary
	for i, p := range m.fields() {
		vs := make([]float64, len(ss))
		for k := range ss {
			vs[k] = *ss[k].fields()[i]
		}
		*p = median(vs)
	}
	return m
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summaryRatio is a's figures over b's (0 where b's is 0).
func summaryRatio(a, b latencySummary) latencySummary {
	var q latencySummary
	for i, p := range q.fields() {
		if d := *b.fields()[i]; d != 0 {
			*p = *a.fields()[i] / d
		}
	}
	return q
}

// compare fills the report's medians and ratios from its runs, which are
// rounds of len(Sizes) runs in Sizes' order.
func (r *latencyReport) compare() {
	n := len(r.Sizes)
	bySize := map[int][]latencySummary{}
	ratios := map[int][]latencySummary{}
	r.Median, r.RatioToFirst, r.WithinTwice = map[string]latencySummary{}, map[string]latencySummary{}, map[string]roundsWithin{}
	for k := 0; k+n <= len(r.Runs); k += n {
		first := summarize(r.Runs[k])
		for i, size := range r.Sizes {
			s := summarize(r.Runs[k+i])
			bySize[size] = append(bySize[size], s)
			if i == 0 {
				continue
			}
			ratios[size] = append(ratios[size], summaryRatio(s, first))
			w := r.WithinTwice[strconv.Itoa(size)]
			w.Rounds++
			if s.CloneP50Ms <= 2*first.CloneP50Ms {
				w.CloneP50++
			}
			if s.CloneP99Ms <= 2*first.CloneP99Ms {
				w.CloneP99++
			}
			r.WithinTwice[strconv.Itoa(size)] = w
		}
	}
	for size, ss := range bySize {
		r.Median[strconv.Itoa(size)] = medianOf(ss)
	}
	for size, qs := range ratios {
		r.RatioToFirst[strconv.Itoa(size)] = medianOf(qs)
	}
}

// runLatencySeries runs every size runs times, the sizes in turn, each on
// a network of its own; a run that fails ends the series.
func runLatencySeries(ctx context.Context, g *globals, f *latencyFlags) (*latencyReport, error) {
	rep := &latencyReport{Sizes: f.sizes}
	for k := range f.runs {
		for _, size := range f.sizes {
			rf := *f
			rf.clones = size
			if len(f.sizes) > 1 || f.runs > 1 {
				fmt.Fprintf(g.stderr, "c2c bench latency: round %d of %d, %d clones\n", k+1, f.runs, size)
			}
			res, err := runLatencyBench(ctx, g, &rf)
			if err != nil {
				return nil, fmt.Errorf("round %d, %d clones: %w", k+1, size, err)
			}
			rep.Runs = append(rep.Runs, res)
			// The next run starts on a collected heap, not on this one's
			// garbage.
			runtime.GC()
			debug.FreeOSMemory()
		}
	}
	if len(rep.Runs) > 1 {
		rep.compare()
	}
	return rep, nil
}

func printLatencyReport(w io.Writer, r *latencyReport) {
	if len(r.Runs) == 1 {
		printLatency(w, r.Runs[0])
		return
	}
	fmt.Fprintf(w, "%-7s %6s %9s %9s %9s %9s %9s %9s %8s %5s %7s\n", "clones", "round", "p50 ms", "p99 ms", "dev p50", "first", "fan-out", "CPU us", "B/floor", "GCs", "stolen")
	for i, run := range r.Runs {
		s := summarize(run)
		fmt.Fprintf(w, "%-7d %6d %9.1f %9.1f %9.1f %9.1f %9.1f %9.0f %8.2f %5d %6.1f%%\n", run.Clones, i/len(r.Sizes)+1,
			s.CloneP50Ms, s.CloneP99Ms, s.DeviceP50Ms, s.FirstReceiverP50Ms, s.FanoutP50Ms, s.CPUUsPerDelivery, s.BytesOverFloor, run.GCCycles, 100*run.CPUStealShare)
	}
	fmt.Fprintln(w)
	for _, size := range r.Sizes {
		key := strconv.Itoa(size)
		m := r.Median[key]
		fmt.Fprintf(w, "%-7d %6s %9.1f %9.1f %9.1f %9.1f %9.1f %9.0f %8.2f\n", size, "median",
			m.CloneP50Ms, m.CloneP99Ms, m.DeviceP50Ms, m.FirstReceiverP50Ms, m.FanoutP50Ms, m.CPUUsPerDelivery, m.BytesOverFloor)
	}
	for _, size := range r.Sizes[1:] {
		key := strconv.Itoa(size)
		q, wt := r.RatioToFirst[key], r.WithinTwice[key]
		fmt.Fprintf(w, "%-7s %6s %8.2fx %8.2fx %8.2fx %8.2fx %8.2fx %8.2fx %7.2fx\n", fmt.Sprintf("%d/%d", size, r.Sizes[0]), "ratio",
			q.CloneP50Ms, q.CloneP99Ms, q.DeviceP50Ms, q.FirstReceiverP50Ms, q.FanoutP50Ms, q.CPUUsPerDelivery, q.BytesOverFloor)
		fmt.Fprintf(w, "# %d clones: p50 within 2x of %d clones' in %d of %d rounds, p99 in %d of %d\n",
			size, r.Sizes[0], wt.CloneP50, wt.Rounds, wt.CloneP99, wt.Rounds)
	}
	fmt.Fprintln(w, "# ratio: the median over the rounds of each figure over the first size's in the same round")
}
