package scenario

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/clone2clone/c2c/node"
)

// Watch lets an in-process runner see, while a run goes on, where its
// instances are: how many clones started and published, and what each
// provider holds. A large run's gathers say only when an instance passed
// a sync point; this says why it has not (a provider that stopped taking
// records, say). A nil *Watch counts nothing.
type Watch struct {
	started, published atomic.Int64

	mu        sync.Mutex
	providers []*node.Node
}

// ProviderView is what one provider node holds at a moment.
type ProviderView struct {
	Conns     int    // open connections
	Records   int    // directory records held (replica)
	GetServed uint64 // directory gets it answered with a record
}

// WatchView is a snapshot of a Watch.
type WatchView struct {
	Started, Published int64 // clone starts (rejoins count again) and publications
	Providers          []ProviderView
}

func (w *Watch) cloneStarted() {
	if w != nil {
		w.started.Add(1)
	}
}

func (w *Watch) clonePublished() {
	if w != nil {
		w.published.Add(1)
	}
}

func (w *Watch) addProvider(n *node.Node) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.providers = append(w.providers, n)
}

// View snapshots w. Safe to call while the run goes on.
func (w *Watch) View() WatchView {
	v := WatchView{Started: w.started.Load(), Published: w.published.Load()}
	w.mu.Lock()
	providers := append([]*node.Node(nil), w.providers...)
	w.mu.Unlock()
	for _, n := range providers {
		st := n.Directory().Stats()
		v.Providers = append(v.Providers, ProviderView{
			Conns: len(n.Host().Network().Conns()), Records: st.Records, GetServed: st.GetServed,
		})
	}
	return v
}

// String is the view as one progress line's tail: the providers' spread
// (min-max) rather than one figure each, which a run of many would make long.
func (v WatchView) String() string {
	s := fmt.Sprintf("clones started %d, published %d", v.Started, v.Published)
	if len(v.Providers) == 0 {
		return s
	}
	p0 := v.Providers[0]
	connsLo, connsHi, recLo, recHi, gets := p0.Conns, p0.Conns, p0.Records, p0.Records, uint64(0)
	for _, p := range v.Providers {
		connsLo, connsHi = min(connsLo, p.Conns), max(connsHi, p.Conns)
		recLo, recHi = min(recLo, p.Records), max(recHi, p.Records)
		gets += p.GetServed
	}
	return s + fmt.Sprintf("; %d providers: %d-%d conns, %d-%d records, %d gets served",
		len(v.Providers), connsLo, connsHi, recLo, recHi, gets)
}
