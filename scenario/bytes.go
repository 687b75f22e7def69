package scenario

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/internal/gossipbytes"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ByteMeter counts the bytes every host of an in-process run sends, by
// protocol (a libp2p BandwidthReporter shared by all of them). A run's
// wall time goes mostly on moving bytes through the simulated QUIC links,
// so what each protocol sends in each phase says where a phase's time
// goes. It keeps running totals only: go-libp2p's own BandwidthCounter
// meters rates on a sweeper that real time drives, which a synctest
// bubble does not.
type ByteMeter struct {
	byProto sync.Map // protocol.ID -> *atomic.Int64
	// Gossip splits the gossipsub share by topic (docsync hosts only;
	// set by NewByteMeter).
	Gossip *gossipbytes.Counter
}

// NewByteMeter returns a meter whose Gossip counts the docsync hosts'
// gossipsub RPCs, the documents' topics by kind.
func NewByteMeter() *ByteMeter {
	return &ByteMeter{Gossip: gossipbytes.New(netproto.MessageID, gossipbytes.DocLabel)}
}

var _ metrics.Reporter = (*ByteMeter)(nil)

func (m *ByteMeter) counter(p protocol.ID) *atomic.Int64 {
	if c, ok := m.byProto.Load(p); ok {
		return c.(*atomic.Int64)
	}
	c, _ := m.byProto.LoadOrStore(p, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// LogSentMessage is the swarm's total of every stream write, which
// LogSentMessageStream counts again by protocol.
func (m *ByteMeter) LogSentMessage(int64) {}

// LogSentMessageStream counts bytes sent on a stream of protocol p.
func (m *ByteMeter) LogSentMessageStream(n int64, p protocol.ID, _ peer.ID) {
	m.counter(p).Add(n)
}

// The receive side is the same bytes seen again; ByteMeter counts sends.
func (m *ByteMeter) LogRecvMessage(int64)                                  {}
func (m *ByteMeter) LogRecvMessageStream(int64, protocol.ID, peer.ID)      {}
func (m *ByteMeter) GetBandwidthForPeer(peer.ID) metrics.Stats             { return metrics.Stats{} }
func (m *ByteMeter) GetBandwidthForProtocol(protocol.ID) metrics.Stats     { return metrics.Stats{} }
func (m *ByteMeter) GetBandwidthTotals() metrics.Stats                     { return metrics.Stats{} }
func (m *ByteMeter) GetBandwidthByPeer() map[peer.ID]metrics.Stats         { return nil }
func (m *ByteMeter) GetBandwidthByProtocol() map[protocol.ID]metrics.Stats { return nil }
func (m *ByteMeter) Reset()                                                {}
func (m *ByteMeter) TrimIdle(time.Time)                                    {}

// Sent is the bytes sent so far, by protocol ("" before a stream's
// protocol is known).
func (m *ByteMeter) Sent() map[protocol.ID]int64 {
	out := map[protocol.ID]int64{}
	m.byProto.Range(func(k, v any) bool {
		out[k.(protocol.ID)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// FormatSent prints sent bytes largest first, the top few by name and the
// rest together: "12.3 MB (/meshsub/1.3.0 9.1 MB, ...)".
func FormatSent(sent map[protocol.ID]int64, top int) string {
	type row struct {
		p protocol.ID
		n int64
	}
	var rows []row
	var total int64
	for p, n := range sent {
		rows = append(rows, row{p, n})
		total += n
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].n > rows[j].n || rows[i].n == rows[j].n && rows[i].p < rows[j].p })
	var parts []string
	var rest int64
	for i, r := range rows {
		if i < top {
			name := string(r.p)
			if name == "" {
				name = "(unnegotiated)"
			}
			parts = append(parts, fmt.Sprintf("%s %s", name, megabytes(r.n)))
		} else {
			rest += r.n
		}
	}
	if rest > 0 {
		parts = append(parts, "other "+megabytes(rest))
	}
	if len(parts) == 0 {
		return "0 MB"
	}
	return fmt.Sprintf("%s (%s)", megabytes(total), strings.Join(parts, ", "))
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// GossipSent sums a gossipbytes count by topic label for its messages,
// and every other part of the RPCs (subscriptions, control) as "control":
// the meshsub total of ByteMeter, split by what it carries.
func GossipSent(c *gossipbytes.Counter) map[protocol.ID]int64 {
	out := map[protocol.ID]int64{}
	for k, n := range c.Snapshot() {
		label := "control"
		if k.Part == gossipbytes.PartMessage {
			label = strings.TrimPrefix(k.Topic, "doc/")
		}
		out[protocol.ID(label)] += n
	}
	return out
}
