package paperbench

import (
	"sync"
	"time"

	"github.com/clone2clone/c2c/device/energy"
	"github.com/libp2p/go-libp2p/core/metrics"
)

// timeline is a metrics.Reporter that passes every report on and records
// when the bytes moved, in bins of binWidth (the radio models see a bin as
// one instant).
type timeline struct {
	metrics.Reporter
	mu    sync.Mutex
	start time.Time
	bins  map[int64]*energy.Packet
}

const binWidth = time.Millisecond

// maxBins bounds a window's timeline (10 minutes of 1 ms bins).
const maxBins = 600_000

func newTimeline(r metrics.Reporter) *timeline {
	return &timeline{Reporter: r, start: time.Now(), bins: map[int64]*energy.Packet{}}
}

func (t *timeline) add(up, down int64) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	k := int64(now.Sub(t.start) / binWidth)
	b := t.bins[k]
	if b == nil {
		if len(t.bins) >= maxBins {
			return
		}
		b = &energy.Packet{At: time.Duration(k) * binWidth}
		t.bins[k] = b
	}
	b.Up += up
	b.Down += down
}

// LogSentMessage records n bytes sent (the swarm reports each stream byte
// here and again per stream; this call alone counts every byte once).
func (t *timeline) LogSentMessage(n int64) {
	t.add(n, 0)
	t.Reporter.LogSentMessage(n)
}

// LogRecvMessage records n bytes received.
func (t *timeline) LogRecvMessage(n int64) {
	t.add(0, n)
	t.Reporter.LogRecvMessage(n)
}

// reset starts a new window now.
func (t *timeline) reset() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.start = time.Now()
	t.bins = map[int64]*energy.Packet{}
	return t.start
}

// packets returns the window's bins.
func (t *timeline) packets() []energy.Packet {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]energy.Packet, 0, len(t.bins))
	for _, b := range t.bins {
		out = append(out, *b)
	}
	return out
}
