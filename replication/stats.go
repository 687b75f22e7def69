package replication

import (
	"math/bits"
	"time"
)

// lagBuckets: log-linear buckets of milliseconds, 8 per power of two (at most
// 12.5% wide), exact below 16 ms, up to 2^32 ms.
const lagBuckets = 30*8 + 16

// LagHistogram records the replay lag of every event: the mirror's time
// when it replayed the event minus the event's device time.
type LagHistogram struct {
	Counts [lagBuckets]uint64
	Count  uint64
	SumMs  uint64
	Max    time.Duration
}

func lagIndex(ms uint64) int {
	ms = min(ms, 1<<32-1)
	shift := max(bits.Len64(ms)-4, 0)
	return shift*8 + int(ms>>shift)
}

// bucketUpper returns the largest lag in ms that falls in bucket i.
func bucketUpper(i int) uint64 {
	if i < 16 {
		return uint64(i)
	}
	shift := i/8 - 1
	return uint64(i-shift*8)<<shift + 1<<shift - 1
}

// Observe records one lag.
func (h *LagHistogram) Observe(d time.Duration) {
	ms := uint64(max(d.Milliseconds(), 0))
	h.Counts[lagIndex(ms)]++
	h.Count++
	h.SumMs += ms
	h.Max = max(h.Max, d)
}

// Quantile returns an upper bound of the q-quantile (0 < q <= 1), within the
// bucket's 12.5%, and never above Max.
func (h *LagHistogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := uint64(q*float64(h.Count) + 0.5)
	rank = min(max(rank, 1), h.Count)
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketUpper(i))*time.Millisecond, h.Max)
		}
	}
	return h.Max
}

// Stats are the mirror's counters, for its metrics.
type Stats struct {
	Batches     uint64 // batches replayed
	Events      uint64 // inputs replayed
	Refused     uint64 // batches refused
	Superseded  uint64 // batches dropped because a resync covers them
	Late        uint64 // batches replayed after their due time t_k+t_syn_int+t_max
	AppErrors   uint64 // inputs an app rejected during replay
	Divergences uint64
	Resyncs     uint64
	// ResyncChunks and ResyncBytes count the state chunks fetched; OfferBytes the offers.
	ResyncChunks, ResyncBytes, OfferBytes uint64
	Lag                                   LagHistogram
}
