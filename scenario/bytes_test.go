package scenario

import (
	"testing"

	"github.com/clone2clone/c2c/internal/gossipbytes"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// The meter counts stream bytes by protocol once (the swarm's total is
// not counted again), and a phase's figures are the difference (gossipbytes.Diff).
func TestByteMeterCountsByProtocol(t *testing.T) {
	m := NewByteMeter()
	m.LogSentMessage(10) // the swarm's total of the write below
	m.LogSentMessageStream(10, "/a", "")
	before := m.Sent()
	m.LogSentMessage(5)
	m.LogSentMessageStream(5, "/a", "")
	m.LogSentMessageStream(7, "/b", "")
	m.LogRecvMessageStream(100, "/a", "")
	got := gossipbytes.Diff(m.Sent(), before)
	if len(got) != 2 || got["/a"] != 5 || got["/b"] != 7 {
		t.Fatalf("sent since: %v, want /a 5 and /b 7", got)
	}
	if s := FormatSent(map[protocol.ID]int64{"/a": 2e6, "/b": 1e6, "/c": 5e5}, 2); s != "3.5 MB (/a 2.0 MB, /b 1.0 MB, other 0.5 MB)" {
		t.Fatalf("formatted %q", s)
	}
	if len(GossipSent(m.Gossip)) != 0 {
		t.Fatal("gossip counted with no RPC sent")
	}
}
