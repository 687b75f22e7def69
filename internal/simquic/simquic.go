// Package simquic puts a libp2p host's QUIC transport on a simulated
// network (marcopolo/simnet), as go-libp2p's x/simlibp2p.QUICSimnet does,
// but safe for hosts that start at the same time.
//
// simnet v0.0.7 creates an endpoint by appending to the network's list of
// links without a lock, so two hosts listening at once race (the race
// detector caught it in the simulations, where every instance starts its
// hosts in its own goroutine). Here every endpoint is created under one
// lock; nothing else about the transport differs.
package simquic

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/marcopolo/simnet"
	"github.com/quic-go/quic-go"
	"go.uber.org/fx"
)

// OneMbps is a link speed of one megabit a second, in bits.
const OneMbps = 1_000_000

// endpoints serialises simnet.Simnet.NewEndpoint across every network: it
// is called once per listening host, so one lock costs nothing.
var endpoints sync.Mutex

// Transport returns the option that makes a host's QUIC listeners simulated
// endpoints of sn with the given link.
func Transport(sn *simnet.Simnet, link simnet.NodeBiDiLinkSettings) libp2p.Option {
	src := &listenIP{}
	opts := []quicreuse.Option{
		// A simulated host has one address: it sends from where it listens.
		quicreuse.OverrideSourceIPSelector(func() (quicreuse.SourceIPSelector, error) { return src, nil }),
		quicreuse.OverrideListenUDP(func(_ string, addr *net.UDPAddr) (net.PacketConn, error) {
			src.ip.Store(&addr.IP)
			endpoints.Lock()
			defer endpoints.Unlock()
			return sn.NewEndpoint(addr, link), nil
		}),
	}
	return libp2p.QUICReuse(newConnManager, opts...)
}

// newConnManager builds the QUIC connection manager and closes it with the
// host: go-libp2p does not close a connection manager passed in this way.
func newConnManager(l fx.Lifecycle, reset quic.StatelessResetKey, token quic.TokenGeneratorKey, opts ...quicreuse.Option) (*quicreuse.ConnManager, error) {
	cm, err := quicreuse.NewConnManager(reset, token, opts...)
	if err != nil {
		return nil, err
	}
	l.Append(fx.StopHook(cm.Close))
	return cm, nil
}

// listenIP is the source address selector of one host: its listen IP.
type listenIP struct{ ip atomic.Pointer[net.IP] }

func (s *listenIP) PreferredSourceIPForDestination(*net.UDPAddr) (net.IP, error) {
	return *s.ip.Load(), nil
}
