package node

import (
	"context"
	"strings"
	"time"

	"github.com/clone2clone/c2c/dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// An idle connection costs both of its ends timers and packets for as
// long as it lasts: QUIC's keep-alive every 15 s and its ACK, the timer
// resets of each packet. A provider hosting thousands of clones that
// nobody uses pays that for every one of them, and it was most of their
// idle CPU (docs/scale.md). With Params.IdleConnTimeout set, the node
// closes what nobody uses and finds it again when it needs it: a
// provider stays in its routing table (the bootstrapper dials one only
// when it is not), and its hosting provider answers for its addresses
// (dht.Directory.HoldAddrs), so a device, a peer or the sequencer that
// dials it wakes it.

// infrastructureProtocol reports whether a stream of protocol p stays
// open on a connection nobody uses: gossipsub's one stream per peer,
// kad-dht's reused request stream, identify and ping. A stream of any
// other protocol is someone's business (a device link, a history fetch,
// a record request) and keeps its connection.
func infrastructureProtocol(p protocol.ID) bool {
	s := string(p)
	return strings.HasPrefix(s, "/meshsub/") || strings.HasPrefix(s, "/floodsub/") ||
		strings.HasPrefix(s, "/ipfs/id/") || p == ping.ID ||
		strings.HasPrefix(s, ProtocolPrefix+"/kad/")
}

// idleConns are the connections among conns that are at least after old
// at now, carry only infrastructure streams and lead to a peer keep does
// not want kept. A stream still negotiating its protocol counts as
// business.
func idleConns(conns []network.Conn, keep func(peer.ID) bool, now time.Time, after time.Duration) []network.Conn {
	var idle []network.Conn
	for _, c := range conns {
		if now.Sub(c.Stat().Opened) < after || keep(c.RemotePeer()) {
			continue
		}
		busy := false
		for _, s := range c.GetStreams() {
			if !infrastructureProtocol(s.Protocol()) {
				busy = true
				break
			}
		}
		if !busy {
			idle = append(idle, c)
		}
	}
	return idle
}

// keptPeers is the set of peers a node keeps its connections to however
// idle they are: those it shares a pubsub topic with (a document's
// members and its sequencer), the directory's topic aside (every
// provider is on it). The connection manager's protections are not
// asked: kad-dht protects the providers in its routing table, which are
// exactly the connections an idle clone need not hold.
func keptPeers(ps *pubsub.PubSub) func(peer.ID) bool {
	kept := map[peer.ID]bool{}
	if ps != nil {
		for _, t := range ps.GetTopics() {
			if t == dht.Topic {
				continue
			}
			for _, p := range ps.ListPeers(t) {
				kept[p] = true
			}
		}
	}
	return func(p peer.ID) bool { return kept[p] }
}

// closeIdleConns closes the node's idle connections every
// IdleConnTimeout, until ctx ends.
func (n *Node) closeIdleConns(ctx context.Context) {
	every := n.cfg.Params.IdleConnTimeout
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		idle := idleConns(n.host.Network().Conns(), keptPeers(n.ps), time.Now(), every)
		for _, c := range idle {
			_ = c.Close()
		}
		if len(idle) > 0 {
			n.metrics.idleConnsClosed.Add(float64(len(idle)))
			n.log.Debug("closed idle connections", "count", len(idle))
		}
		t.Reset(every)
	}
}
