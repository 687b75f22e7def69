package scenario

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrCheck wraps every pass criterion a Summary misses.
var ErrCheck = errors.New("scenario: check failed")

// MinLookupSuccess is the share of lookups that must succeed under churn.
const MinLookupSuccess = 0.99

// Percentiles of a latency sample, in milliseconds.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// PercentilesOf summarizes d (nearest rank); it does not modify d.
func PercentilesOf(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.5) - 1
		return ms(s[max(0, min(i, len(s)-1))])
	}
	return Percentiles{Count: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Summary is the JSON a run writes.
type Summary struct {
	Case    string `json:"case"`
	Runner  string `json:"runner"` // "in-process" or "testground"
	Params  Params `json:"params"`
	Clones  int    `json:"clones"`
	Churned int    `json:"churned"`
	// Rejoined counts churned clones that came back.
	Rejoined int `json:"rejoined"`

	Lookups *LookupStats `json:"lookups,omitempty"`
	Edits   *EditStats   `json:"edits,omitempty"`
	Fork    *ForkStats   `json:"fork,omitempty"`

	// MemoryPerNodeBytes is the heap of the run once every node was up,
	// divided by the number of nodes.
	MemoryPerNodeBytes float64 `json:"memory_per_node_bytes"`
	// Peers are the connected peers per node (the main driver of memory:
	// each connection holds QUIC and TLS state).
	Peers PeerStats `json:"peers_per_node"`
	// WallSeconds is the real time of the run; VirtualSeconds the
	// simulated time (in-process) or again the real time (Testground).
	// SentByPhase is what all hosts sent, by protocol, between the gather
	// that ends the phase before and the one named (in-process only).
	SentByPhase    map[string]map[string]int64 `json:"sent_bytes_by_phase,omitempty"`
	WallSeconds    float64                     `json:"wall_seconds"`
	VirtualSeconds float64                     `json:"virtual_seconds"`
	Errors         []string                    `json:"errors,omitempty"`
	// Samples are the raw latencies (ms) the chart plots.
	Samples Samples `json:"samples"`
}

// LookupStats are the directory case's numbers.
type LookupStats struct {
	Attempted   int         `json:"attempted"`
	Succeeded   int         `json:"succeeded"`
	SuccessRate float64     `json:"success_rate"`
	Latency     Percentiles `json:"latency"`
	Failures    []string    `json:"failures,omitempty"`
}

// EditStats are the docsync case's delivery numbers.
type EditStats struct {
	Acked int `json:"acked"`
	// Deliveries expected (every acked edit at every other live clone at
	// the end) and made; Completeness is their ratio.
	Expected     int         `json:"deliveries_expected"`
	Delivered    int         `json:"deliveries"`
	Completeness float64     `json:"completeness"`
	Converged    int         `json:"converged_clones"`
	Latency      Percentiles `json:"latency"`
}

// PeerStats are connected peers per node: the mean once every node was up
// and at the end, and the most any node had at either point.
type PeerStats struct {
	UpMean  float64 `json:"up_mean"`
	EndMean float64 `json:"end_mean"`
	Max     int     `json:"max"`
}

// ForkStats are the forking-sequencer numbers.
type ForkStats struct {
	Clones    int         `json:"clones"`
	Detected  int         `json:"detected"`
	Detection Percentiles `json:"detection"`
}

// Samples are raw latencies in milliseconds.
type Samples struct {
	LookupMs []float64 `json:"lookup_ms,omitempty"`
	EditMs   []float64 `json:"edit_ms,omitempty"`
	ForkMs   []float64 `json:"fork_ms,omitempty"`
}

// Summarize aggregates every instance's result of a run of p.
func Summarize(p Params, runner string, results []InstanceResult) *Summary {
	s := &Summary{Case: p.Case, Runner: runner, Params: p, Clones: p.Clones()}
	var heap float64
	var lookupLat, editLat, forkLat []time.Duration
	for _, r := range results {
		heap += float64(r.HeapBytes)
		s.Peers.UpMean += float64(r.PeersUp) / float64(len(results))
		s.Peers.EndMean += float64(r.PeersEnd) / float64(len(results))
		s.Peers.Max = max(s.Peers.Max, r.PeersUp, r.PeersEnd)
		if r.Err != "" {
			s.Errors = append(s.Errors, fmt.Sprintf("instance %d: %s", r.Index, r.Err))
		}
		if r.Left {
			s.Churned++
		}
		if r.Rejoined {
			s.Rejoined++
		}
		switch p.Case {
		case CaseDirectory:
			if s.Lookups == nil {
				s.Lookups = &LookupStats{}
			}
			s.Lookups.Attempted += r.Lookups
			s.Lookups.Succeeded += r.LookupsOK
			s.Lookups.Failures = append(s.Lookups.Failures, r.FailedLookups...)
			lookupLat = append(lookupLat, r.LookupLat...)
		case CaseDocsync:
			if r.Role != roleClone {
				continue
			}
			if s.Edits == nil {
				s.Edits = &EditStats{}
			}
			s.Edits.Acked += r.EditsAcked
			s.Edits.Expected += r.Expected
			s.Edits.Delivered += r.Delivered
			if r.Converged {
				s.Edits.Converged++
			}
			editLat = append(editLat, r.EditLat...)
			if p.Fork {
				if s.Fork == nil {
					s.Fork = &ForkStats{}
				}
				s.Fork.Clones++
				if r.ForkDelay > 0 {
					s.Fork.Detected++
					forkLat = append(forkLat, r.ForkDelay)
				}
			}
		}
	}
	s.MemoryPerNodeBytes = heap / float64(max(1, len(results)))
	if s.Lookups != nil {
		s.Lookups.SuccessRate = ratio(s.Lookups.Succeeded, s.Lookups.Attempted)
		s.Lookups.Latency = PercentilesOf(lookupLat)
		s.Samples.LookupMs = toMs(lookupLat)
		if len(s.Lookups.Failures) > 20 {
			s.Lookups.Failures = s.Lookups.Failures[:20]
		}
	}
	if s.Edits != nil {
		s.Edits.Completeness = ratio(s.Edits.Delivered, s.Edits.Expected)
		s.Edits.Latency = PercentilesOf(editLat)
		s.Samples.EditMs = toMs(editLat)
	}
	if s.Fork != nil {
		s.Fork.Detection = PercentilesOf(forkLat)
		s.Samples.ForkMs = toMs(forkLat)
	}
	return s
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func toMs(d []time.Duration) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = ms(v)
	}
	return out
}

// Check holds the run to the pass criteria: no instance failed; directory
// lookups succeed >= MinLookupSuccess; with an honest sequencer every acked
// edit reached every live clone and all converged; with a forking one every
// clone raised the alarm.
func (s *Summary) Check() error {
	var errs []error
	if len(s.Errors) > 0 {
		errs = append(errs, fmt.Errorf("%w: %d instances failed: %v", ErrCheck, len(s.Errors), s.Errors[0]))
	}
	if l := s.Lookups; l != nil && (l.Attempted == 0 || l.SuccessRate < MinLookupSuccess) {
		errs = append(errs, fmt.Errorf("%w: %d of %d lookups succeeded (%.4f < %.2f)", ErrCheck,
			l.Succeeded, l.Attempted, l.SuccessRate, MinLookupSuccess))
	}
	if e := s.Edits; e != nil && !s.Params.Fork {
		if e.Acked == 0 || e.Delivered != e.Expected || e.Converged != s.Clones {
			errs = append(errs, fmt.Errorf("%w: %d edits acked, %d of %d deliveries, %d of %d clones converged",
				ErrCheck, e.Acked, e.Delivered, e.Expected, e.Converged, s.Clones))
		}
	}
	if f := s.Fork; f != nil && f.Detected != f.Clones {
		errs = append(errs, fmt.Errorf("%w: %d of %d clones raised the fork alarm", ErrCheck, f.Detected, f.Clones))
	}
	return errors.Join(errs...)
}
