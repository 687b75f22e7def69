package netsim

import (
	"net"
	"sync"
	"time"

	"github.com/marcopolo/simnet"
)

// lost is the latency of a packet the partition cuts: far beyond any
// test's end, so it is never delivered (simnet cannot drop a packet).
const lost = 10_000 * time.Hour

// partition is the network's current cut: the side of each IP address
// that is cut off (read by simnet's router goroutine, hence the lock).
type partition struct {
	mu   sync.Mutex
	side map[string]int
}

// latency returns the simnet latency function: oneWay, or lost for a
// packet between two sides of the partition.
func (n *Net) latency(oneWay time.Duration) func(*simnet.Packet) time.Duration {
	return func(p *simnet.Packet) time.Duration {
		if n.cut.cuts(p.From, p.To) {
			return lost
		}
		return oneWay
	}
}

func (c *partition) cuts(from, to net.Addr) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.side == nil {
		return false
	}
	a, aok := c.side[ipOf(from)]
	b, bok := c.side[ipOf(to)]
	return aok && bok && a != b
}

func ipOf(a net.Addr) string {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.IP.String()
	}
	h, _, _ := net.SplitHostPort(a.String())
	return h
}

// Partition cuts the network between the given sides: every packet from
// a peer of one side to a peer of another is lost, in both directions,
// until Heal. Connections between them stall and time out as on a real
// network; nothing is stopped. Peers on no side are not cut.
func (n *Net) Partition(sides ...[]*Peer) {
	m := map[string]int{}
	for i, ps := range sides {
		for _, p := range ps {
			m[p.IP] = i
		}
	}
	n.cut.mu.Lock()
	n.cut.side = m
	n.cut.mu.Unlock()
}

// Heal ends the partition: packets sent from now on are delivered (those
// sent during it stay lost).
func (n *Net) Heal() {
	n.cut.mu.Lock()
	n.cut.side = nil
	n.cut.mu.Unlock()
}
