package device

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ByteCounter is an exact metrics.Reporter: libp2p's BandwidthCounter
// publishes totals only when its meters are swept (each second), so a short
// device process would read zeros. It counts stream bytes per protocol and
// per peer as they are logged; rates are not kept.
type ByteCounter struct {
	mu     sync.Mutex
	total  metrics.Stats
	byProt map[protocol.ID]metrics.Stats
	byPeer map[peer.ID]metrics.Stats
}

// NewByteCounter returns an empty counter.
func NewByteCounter() *ByteCounter {
	return &ByteCounter{byProt: map[protocol.ID]metrics.Stats{}, byPeer: map[peer.ID]metrics.Stats{}}
}

var _ metrics.Reporter = (*ByteCounter)(nil)

// LogSentMessage counts bytes sent (on streams too: see GetBandwidthTotals).
func (c *ByteCounter) LogSentMessage(n int64) {
	c.mu.Lock()
	c.total.TotalOut += n
	c.mu.Unlock()
}

// LogRecvMessage counts bytes received (on streams too).
func (c *ByteCounter) LogRecvMessage(n int64) {
	c.mu.Lock()
	c.total.TotalIn += n
	c.mu.Unlock()
}

// LogSentMessageStream counts bytes sent on a stream.
func (c *ByteCounter) LogSentMessageStream(n int64, p protocol.ID, id peer.ID) {
	c.mu.Lock()
	s := c.byProt[p]
	s.TotalOut += n
	c.byProt[p] = s
	s = c.byPeer[id]
	s.TotalOut += n
	c.byPeer[id] = s
	c.mu.Unlock()
}

// LogRecvMessageStream counts bytes received on a stream.
func (c *ByteCounter) LogRecvMessageStream(n int64, p protocol.ID, id peer.ID) {
	c.mu.Lock()
	s := c.byProt[p]
	s.TotalIn += n
	c.byProt[p] = s
	s = c.byPeer[id]
	s.TotalIn += n
	c.byPeer[id] = s
	c.mu.Unlock()
}

// GetBandwidthForPeer returns one peer's totals.
func (c *ByteCounter) GetBandwidthForPeer(id peer.ID) metrics.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPeer[id]
}

// GetBandwidthForProtocol returns one protocol's totals.
func (c *ByteCounter) GetBandwidthForProtocol(p protocol.ID) metrics.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byProt[p]
}

// GetBandwidthTotals returns the totals. The swarm reports every stream
// byte twice, through LogXMessage and LogXMessageStream, so the plain
// calls alone already count everything.
func (c *ByteCounter) GetBandwidthTotals() metrics.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// GetBandwidthByPeer returns every peer's totals.
func (c *ByteCounter) GetBandwidthByPeer() map[peer.ID]metrics.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[peer.ID]metrics.Stats, len(c.byPeer))
	for k, v := range c.byPeer {
		out[k] = v
	}
	return out
}

// GetBandwidthByProtocol returns every protocol's totals.
func (c *ByteCounter) GetBandwidthByProtocol() map[protocol.ID]metrics.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[protocol.ID]metrics.Stats, len(c.byProt))
	for k, v := range c.byProt {
		out[k] = v
	}
	return out
}

// Reset zeroes the counter.
func (c *ByteCounter) Reset() {
	c.mu.Lock()
	c.total = metrics.Stats{}
	c.byProt = map[protocol.ID]metrics.Stats{}
	c.byPeer = map[peer.ID]metrics.Stats{}
	c.mu.Unlock()
}

// TrimIdle does nothing: the counter keeps every peer it saw.
func (c *ByteCounter) TrimIdle(time.Time) {}
