package scenario

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"
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
	// Gossip splits the gossipsub share by topic (docsync hosts only).
	Gossip GossipMeter
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

// SentSince is what was sent since an earlier Sent, without zeros.
func SentSince(now, before map[protocol.ID]int64) map[protocol.ID]int64 {
	out := map[protocol.ID]int64{}
	for p, n := range now {
		if d := n - before[p]; d > 0 {
			out[p] = d
		}
	}
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

// GossipMeter counts what gossipsub sends, by the last part of the topic
// name (a document's "entries", "heads", "submit", "presence"; the
// directory's own), and its control messages apart: the meshsub total
// of ByteMeter, split by what it carries. One GossipMeter serves every
// host of a run (pubsub.WithRawTracer).
type GossipMeter struct {
	counts sync.Map // kind -> *atomic.Int64
}

var _ pubsub.RawTracer = (*GossipMeter)(nil)

func (g *GossipMeter) add(kind string, n int) {
	c, ok := g.counts.Load(kind)
	if !ok {
		c, _ = g.counts.LoadOrStore(kind, new(atomic.Int64))
	}
	c.(*atomic.Int64).Add(int64(n))
}

func topicKind(t string) string {
	if i := strings.LastIndexByte(t, '/'); i >= 0 && i < len(t)-1 {
		return t[i+1:]
	}
	return t
}

// SendRPC counts an RPC's messages by topic and its control part.
func (g *GossipMeter) SendRPC(rpc *pubsub.RPC, _ peer.ID) {
	for _, m := range rpc.Publish {
		g.add(topicKind(m.GetTopic()), len(m.Data))
	}
	if c := rpc.Control; c != nil {
		g.add("control", proto.Size(c))
	}
}

// Sent is the bytes sent so far, by topic kind.
func (g *GossipMeter) Sent() map[protocol.ID]int64 {
	out := map[protocol.ID]int64{}
	g.counts.Range(func(k, v any) bool {
		out[protocol.ID(k.(string))] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// The rest of pubsub.RawTracer: not counted.
func (g *GossipMeter) AddPeer(peer.ID, protocol.ID)             {}
func (g *GossipMeter) RemovePeer(peer.ID)                       {}
func (g *GossipMeter) Join(string)                              {}
func (g *GossipMeter) Leave(string)                             {}
func (g *GossipMeter) Graft(peer.ID, string)                    {}
func (g *GossipMeter) Prune(peer.ID, string)                    {}
func (g *GossipMeter) ValidateMessage(*pubsub.Message)          {}
func (g *GossipMeter) DeliverMessage(*pubsub.Message)           {}
func (g *GossipMeter) RejectMessage(*pubsub.Message, string)    {}
func (g *GossipMeter) DuplicateMessage(*pubsub.Message)         {}
func (g *GossipMeter) ThrottlePeer(peer.ID)                     {}
func (g *GossipMeter) RecvRPC(*pubsub.RPC)                      {}
func (g *GossipMeter) DropRPC(*pubsub.RPC, peer.ID)             {}
func (g *GossipMeter) UndeliverableMessage(*pubsub.Message)     {}
func (g *GossipMeter) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (g *GossipMeter) OnClosedOutboundStream(peer.ID)           {}
