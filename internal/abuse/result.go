package abuse

import (
	"encoding/json"
	"sort"
	"sync"
	"time"
)

// maxReasons caps the distinct reasons a Result keeps; more go to "other".
const maxReasons = 16

// Result is what one attack did. Every stream it tried ends as one of
// Accepted, Refused or Errors; Opened counts those that got as far as
// carrying the attack's bytes.
type Result struct {
	Tried    int `json:"tried"`    // streams the attack tried to open
	Opened   int `json:"opened"`   // streams that opened and carried the attack's bytes
	Accepted int `json:"accepted"` // the target took the request (OK reply, entries served, stream still held at the end)
	Refused  int `json:"refused"`  // the target turned it down: an error reply, a reset, nothing served
	Errors   int `json:"errors"`   // failed on our side or in transport: no stream, write error, timeout
	// Items counts what the target handed over (HistoryFetch: entries).
	Items int `json:"items,omitempty"`
	// Reasons counts refusals and errors by their text (the first
	// maxReasons distinct texts; the rest under "other").
	Reasons map[string]int `json:"reasons,omitempty"`
	Elapsed time.Duration  `json:"-"`
}

// MarshalJSON adds elapsed_s (seconds) to the fields.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		ElapsedS float64 `json:"elapsed_s"`
	}{plain(r), r.Elapsed.Seconds()})
}

// Merge adds o's counts to r (attacks run from several hosts at once).
func (r *Result) Merge(o Result) {
	r.Tried += o.Tried
	r.Opened += o.Opened
	r.Accepted += o.Accepted
	r.Refused += o.Refused
	r.Errors += o.Errors
	r.Items += o.Items
	for k, n := range o.Reasons {
		r.reason(k, n)
	}
	r.Elapsed = max(r.Elapsed, o.Elapsed)
}

func (r *Result) reason(why string, n int) {
	if r.Reasons == nil {
		r.Reasons = map[string]int{}
	}
	if _, ok := r.Reasons[why]; !ok && len(r.Reasons) >= maxReasons {
		why = "other"
	}
	r.Reasons[why] += n
}

// TopReason returns the most frequent reason and its count ("", 0 if none).
func (r Result) TopReason() (string, int) {
	keys := make([]string, 0, len(r.Reasons))
	for k := range r.Reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	best, n := "", 0
	for _, k := range keys {
		if r.Reasons[k] > n {
			best, n = k, r.Reasons[k]
		}
	}
	return best, n
}

// outcome is how one stream of an attack ended.
type outcome int

const (
	accepted outcome = iota
	refused
	failed
)

// tally collects the outcomes of an attack's concurrent streams.
type tally struct {
	mu    sync.Mutex
	r     Result
	start time.Time
}

func newTally() *tally { return &tally{start: time.Now()} }

// add records one stream: whether it opened, how it ended, and why (for a
// refusal or an error).
func (t *tally) add(opened bool, o outcome, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.r.Tried++
	if opened {
		t.r.Opened++
	}
	switch o {
	case accepted:
		t.r.Accepted++
	case refused:
		t.r.Refused++
	default:
		t.r.Errors++
	}
	if o != accepted && why != "" {
		t.r.reason(why, 1)
	}
}

func (t *tally) result() Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.r
	r.Elapsed = time.Since(t.start)
	return r
}
