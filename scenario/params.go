package scenario

import (
	"errors"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/docsync"
)

// Case names, as Testground test cases and `c2c-sim` arguments.
const (
	CaseDirectory = "directory"
	CaseDocsync   = "docsync"
)

// ErrInvalidParams wraps every problem Params.Validate reports.
var ErrInvalidParams = errors.New("scenario: invalid params")

// ErrUnknownCase is returned for a case name that is not CaseDirectory or
// CaseDocsync.
var ErrUnknownCase = errors.New("scenario: unknown case")

// Params are the knobs of a run; every instance of a run gets the same.
type Params struct {
	Case      string
	Instances int // every node: providers + clones, or sequencer + clones
	// Providers is the number of provider instances (directory case) and
	// of the provider processes that host the clones (HostOf).
	Providers int
	// Latency is the one-way latency of a link (in-process runs; Testground
	// shapes traffic only on runners with a sidecar).
	Latency time.Duration
	// DeliveryGrain is the grid of virtual time on which in-process runs
	// deliver packets: each arrives Latency after it was sent, rounded up
	// to a multiple of DeliveryGrain (0: exactly Latency). Packets sent
	// within one grain then arrive at one instant, and the bubble runs
	// their receivers together, on every core, with one clock advance.
	DeliveryGrain time.Duration
	// Churn is the fraction of clones that leave during the run and come
	// back (same identity, same data dir) DownFor later.
	Churn float64
	// Duration is the measured phase: lookups or edits.
	Duration time.Duration
	// DownFor is how long a churned clone stays away.
	DownFor time.Duration
	// LookupEvery is the mean gap between two lookups of one clone.
	LookupEvery time.Duration
	// EditEvery is the mean think time between two edits of one clone.
	EditEvery time.Duration
	// Fork makes the docsync sequencer equivocate at seq ForkAt.
	Fork   bool
	ForkAt uint64
	// Timeout bounds each phase (joining, converging, one lookup).
	Timeout time.Duration
	// Seed makes the run's random choices (who churns, targets, edits).
	Seed uint64
	// ConnsHigh, if > 0, replaces the clones' connection-manager high
	// watermark (low: half of it). Each connection holds
	// 40-70 KB of QUIC and TLS state; the trim reaches only what kad-dht
	// leaves unprotected, so it lowers memory a little (docs/scale.md).
	ConnsHigh int
	// ServerClones makes the directory case's clones DHT servers, as a
	// `c2c clone` process is (and as every run before issue 16 had them),
	// instead of what a hosting provider runs: DHT clients of the
	// providers (clonehost.DefaultParams).
	ServerClones bool
	// JoinOver spreads the clones' start over this long (clone k of n
	// starts k*JoinOver/n in): a thousand clones that boot in the same
	// instant each open their DHT refresh connections at once, which no
	// real network sees and whose peak memory dominates a large run.
	JoinOver time.Duration
}

// DefaultParams are the parameters CI runs for a case at 100 instances.
func DefaultParams(name string) Params {
	p := Params{
		Case:          name,
		Instances:     100,
		Providers:     3,
		Latency:       20 * time.Millisecond,
		DeliveryGrain: time.Millisecond,
		Churn:         0.1,
		Duration:      60 * time.Second,
		DownFor:       15 * time.Second,
		LookupEvery:   5 * time.Second,
		EditEvery:     4 * time.Second,
		ForkAt:        20,
		Timeout:       2 * time.Minute,
		Seed:          1,
	}
	if name == CaseDocsync {
		p.Duration = 30 * time.Second
		p.DownFor = 8 * time.Second
	}
	return p
}

// joinDelay is how long clone number clone waits before it starts.
func (p Params) joinDelay(clone int) time.Duration {
	if p.JoinOver <= 0 || p.Clones() == 0 {
		return 0
	}
	return time.Duration(int64(p.JoinOver) * int64(clone) / int64(p.Clones()))
}

// docGroups splits the docsync clones into documents of at most
// docsync.MaxMembers members (a protocol cap: a rekey must fit one op), all
// on the one sequencer, as evenly as it can: it returns how many documents
// and how many clones each has (the last may have fewer).
func (p Params) docGroups() (docs, perDoc int) {
	n := p.Clones()
	docs = (n + docsync.MaxMembers - 1) / docsync.MaxMembers
	perDoc = (n + docs - 1) / docs
	return docs, perDoc
}

// docOf is the document (0..docs-1) of the docsync clone at instance index
// (1..Instances-1).
func (p Params) docOf(index int) int {
	_, per := p.docGroups()
	return (index - 1) / per
}

// docClones is the range [lo, hi) of clone numbers (instance index - 1) in
// document g; clone lo creates it and invites the rest.
func (p Params) docClones(g int) (lo, hi int) {
	_, per := p.docGroups()
	return g * per, min(p.Clones(), (g+1)*per)
}

// docCreator is the instance index of the clone that creates document g and
// invites the rest of its group.
func (p Params) docCreator(g int) int {
	lo, _ := p.docClones(g)
	return 1 + lo
}

// HostOf is the provider process that hosts instance index, as `c2c
// provider --host-clones` would run it: provider i (0..Providers-1) is its
// own host, clone k is hosted by provider k mod Providers. The docsync case
// has no provider nodes, but its clones are still grouped by k mod
// Providers into processes whose datastore and resource budget they share;
// its sequencer (index 0) is a process of its own: HostOf returns -1.
func (p Params) HostOf(index int) int {
	if p.Case == CaseDirectory {
		if index < p.Providers {
			return index
		}
		return (index - p.Providers) % p.Providers
	}
	if index == 0 || p.Providers < 1 {
		return -1
	}
	return (index - 1) % p.Providers
}

// Clones is the number of clone instances.
func (p Params) Clones() int {
	if p.Case == CaseDirectory {
		return p.Instances - p.Providers
	}
	return p.Instances - 1 // one sequencer
}

// Validate reports the first problem with p, wrapped in ErrInvalidParams.
func (p Params) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidParams}, a...)...)
	}
	switch {
	case p.Case != CaseDirectory && p.Case != CaseDocsync:
		return fmt.Errorf("%w: %q", ErrUnknownCase, p.Case)
	case p.Case == CaseDirectory && (p.Providers < 1 || p.Instances < p.Providers+2):
		return bad("directory needs >= 1 provider and >= 2 clones (instances %d, providers %d)", p.Instances, p.Providers)
	case p.Case == CaseDocsync && p.Instances < 3:
		return bad("docsync needs a sequencer and >= 2 clones (instances %d)", p.Instances)
	case p.Churn < 0 || p.Churn >= 1:
		return bad("churn %v not in [0, 1)", p.Churn)
	case p.Duration <= 0 || p.Timeout <= 0 || p.LookupEvery <= 0 || p.EditEvery <= 0:
		return bad("durations must be positive")
	case p.Churn > 0 && p.DownFor <= 0:
		return bad("churn needs a positive DownFor")
	case p.Latency < 0:
		return bad("negative latency")
	case p.DeliveryGrain < 0:
		return bad("negative delivery grain %v", p.DeliveryGrain)
	case p.JoinOver < 0:
		return bad("negative join-over %v", p.JoinOver)
	case p.ConnsHigh < 0 || p.ConnsHigh == 1:
		return bad("conns high %d: 0 (node default) or >= 2", p.ConnsHigh)
	case p.Fork && p.ForkAt < 2:
		return bad("fork at seq %d: the sequencer can fork from seq 2 on", p.ForkAt)
	}
	return nil
}
