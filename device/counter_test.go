package device

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// The swarm reports each stream read and write through both the plain and
// the per-stream call; the total must count those bytes once.
func TestByteCounterCountsStreamBytesOnce(t *testing.T) {
	c := NewByteCounter()
	id := peer.ID("p")
	c.LogSentMessage(100)
	c.LogSentMessageStream(100, "/x/1", id)
	c.LogRecvMessage(40)
	c.LogRecvMessageStream(40, "/x/1", id)
	tot := c.GetBandwidthTotals()
	if tot.TotalOut != 100 || tot.TotalIn != 40 {
		t.Fatalf("totals out %d in %d, want 100 and 40", tot.TotalOut, tot.TotalIn)
	}
	if p := c.GetBandwidthForProtocol("/x/1"); p.TotalOut != 100 || p.TotalIn != 40 {
		t.Fatalf("protocol totals out %d in %d", p.TotalOut, p.TotalIn)
	}
}
