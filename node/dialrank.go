package node

import (
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

// quicFallback is how long a cloud node waits on its TCP dials to a peer
// before it dials the peer's QUIC addresses too (go-libp2p's own delay
// between the two, the other way round: swarm.PublicTCPDelay).
const quicFallback = swarm.PublicTCPDelay

// preferTCP is the dial ranker of the cloud roles (providers, clones,
// sequencers): a peer's direct TCP addresses first, ranked among
// themselves as go-libp2p ranks them, and its other addresses (QUIC,
// relays, ...) quicFallback after the last of them, or at once if a TCP
// dial fails first (the swarm dials the next address when none is in
// flight).
//
// Why TCP, where go-libp2p prefers QUIC: between cloud hosts, paths lose
// few packets, and a feed delivers each entry to every member, one small
// message per member. quic-go spends user-space CPU on each datagram (its
// packet protection, acknowledgements and loss recovery); the kernel's TCP
// does that work for less: in five alternating pairs of `c2c bench latency
// --clones 32`, a tenth less CPU per delivery and a third less fan-out
// latency (docs/realtime.md, fix 18). Devices keep go-libp2p's ranker: for a
// phone, QUIC's handshake and its streams without head-of-line blocking
// matter more.
func preferTCP(addrs []ma.Multiaddr) []network.AddrDelay {
	var tcp, rest []ma.Multiaddr
	for _, a := range addrs {
		if isDirectTCP(a) {
			tcp = append(tcp, a)
		} else {
			rest = append(rest, a)
		}
	}
	if len(tcp) == 0 {
		return swarm.DefaultDialRanker(addrs)
	}
	out := swarm.DefaultDialRanker(tcp)
	var last time.Duration
	for _, ad := range out {
		last = max(last, ad.Delay)
	}
	for _, ad := range swarm.DefaultDialRanker(rest) {
		ad.Delay += last + quicFallback
		out = append(out, ad)
	}
	return out
}

// isDirectTCP reports whether a is a plain TCP address: not a relay's,
// not a WebSocket.
func isDirectTCP(a ma.Multiaddr) bool {
	tcp := false
	for _, c := range a {
		switch c.Protocol().Code {
		case ma.P_TCP:
			tcp = true
		case ma.P_CIRCUIT, ma.P_WS, ma.P_WSS, ma.P_TLS, ma.P_SNI:
			return false
		}
	}
	return tcp
}
