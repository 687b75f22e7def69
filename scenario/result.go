package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// InstanceResult is what one instance measured; instance 0 gathers all of
// them at the end of a run.
type InstanceResult struct {
	Index int    `json:"index"`
	Role  string `json:"role"`
	// Left and Rejoined say whether this clone churned.
	Left     bool `json:"left,omitempty"`
	Rejoined bool `json:"rejoined,omitempty"`
	// HeapBytes is the process heap after a GC once every node was up
	// (only when Env.MeasureHeap).
	HeapBytes uint64 `json:"heap_bytes,omitempty"`
	// PeersUp and PeersEnd are how many peers this instance's host was
	// connected to once every node was up, and at the end of the run.
	PeersUp  int `json:"peers_up"`
	PeersEnd int `json:"peers_end"`

	// directory
	Lookups   int             `json:"lookups,omitempty"`
	LookupsOK int             `json:"lookups_ok,omitempty"`
	LookupLat []time.Duration `json:"lookup_lat_ns,omitempty"`
	// FailedLookups describes the first few failures.
	FailedLookups []string `json:"failed_lookups,omitempty"`

	// docsync
	EditsAcked int             `json:"edits_acked,omitempty"`
	Expected   int             `json:"deliveries_expected,omitempty"` // other clones' acked edits
	Delivered  int             `json:"deliveries,omitempty"`          // of those, in this clone's log
	EditLat    []time.Duration `json:"edit_lat_ns,omitempty"`         // submit at author -> update event here
	Converged  bool            `json:"converged,omitempty"`
	// ForkDelay is how long after the sequencer first misbehaved this clone
	// raised the alarm (0: no alarm).
	ForkDelay time.Duration `json:"fork_delay_ns,omitempty"`
	// Err is the instance's failure, if any.
	Err string `json:"err,omitempty"`
}

// gatherResults shares own with every instance and returns, in instance 0
// (the one that reports), everyone's results; the others get nil, so a
// run decodes N results once, not N times.
func gatherResults(ctx context.Context, env *Env, own *InstanceResult) ([]InstanceResult, error) {
	b, err := json.Marshal(own)
	if err != nil {
		return nil, err
	}
	all, err := env.Sync.Gather(ctx, "results", env.Index, b)
	if err != nil || env.Index != 0 {
		return nil, err
	}
	out := make([]InstanceResult, len(all))
	for i, raw := range all {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("%w: result of instance %d: %w", ErrGather, i, err)
		}
	}
	return out, nil
}
