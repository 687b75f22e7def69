package node

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/x/rate"
)

// newResourceManager builds a resource manager from p: rcmgr's auto-scaled
// defaults with the system and transient connection and stream limits
// raised, and the per-address limits replaced. rcmgr's own defaults allow 8
// concurrent connections per IPv4 address and 0.2 new ones per second, which
// is what a provider serving thousands of clones behind one NAT must not have.
// metrics says whether the node exports Prometheus metrics (WithMetrics).
func newResourceManager(p Params, metrics bool) (network.ResourceManager, error) {
	return scaledResourceManager(p, 1, metrics)
}

// scaledResourceManager is newResourceManager with every per-peer limit
// multiplied by hosts: rcmgr counts a remote peer per resource manager,
// not per host, so one shared by many hosts (Shared) sees a provider
// connected to each of them as one peer with that many connections.
//
// Without metrics, rcmgr's statistics are off: rcmgr otherwise feeds every
// scope change (each stream opened or closed) to Prometheus collectors
// that nothing exports, and the hosts of a provider hosting clones opened
// and closed enough streams at idle for it to show in their CPU profile.
func scaledResourceManager(p Params, hosts int, metrics bool) (network.ResourceManager, error) {
	hosts = max(hosts, 1)
	raise := rcmgr.ResourceLimits{
		Conns:           rcmgr.LimitVal(p.MaxConns),
		ConnsInbound:    rcmgr.LimitVal(p.MaxConns),
		ConnsOutbound:   rcmgr.LimitVal(p.MaxConns),
		Streams:         rcmgr.LimitVal(p.MaxStreams),
		StreamsInbound:  rcmgr.LimitVal(p.MaxStreams),
		StreamsOutbound: rcmgr.LimitVal(p.MaxStreams),
		FD:              rcmgr.LimitVal(p.MaxConns),
	}
	perPeer := rcmgr.ResourceLimits{
		StreamsInbound: rcmgr.LimitVal(p.StreamsPerPeer * hosts),
		Streams:        rcmgr.LimitVal(2 * p.StreamsPerPeer * hosts),
		ConnsInbound:   rcmgr.LimitVal(p.ConnsPerPeer * hosts),
		Conns:          rcmgr.LimitVal(p.ConnsPerPeer * hosts),
	}
	if hosts > 1 {
		// rcmgr's own per-peer defaults (8 outbound connections, 4 file
		// descriptors, 512 outbound streams, 64 MiB) scaled the same way.
		perPeer.ConnsOutbound = rcmgr.LimitVal(p.ConnsPerPeer * hosts)
		perPeer.StreamsOutbound = rcmgr.LimitVal(2 * p.StreamsPerPeer * hosts)
		perPeer.FD = rcmgr.LimitVal(4 * hosts)
		perPeer.Memory = rcmgr.LimitVal64(int64(64<<20) * int64(hosts))
	}
	// Every protocol's and service's streams across all peers: rcmgr
	// scales these with RAM, to 1,265 inbound streams per protocol on a
	// 24 GiB machine, far below the system limit. A connected clone
	// keeps a kad stream and a gossipsub stream open to each provider, so
	// a provider refused the 1,266th clone's streams (its lookup check,
	// its puts): the N=3000 simulation stopped
	// publishing at 1,263 clones (docs/scale.md). The per-peer limits
	// above are what bound one stranger; the system limit bounds them all.
	wide := rcmgr.ResourceLimits{
		Streams:         rcmgr.LimitVal(p.MaxStreams),
		StreamsInbound:  rcmgr.LimitVal(p.MaxStreams),
		StreamsOutbound: rcmgr.LimitVal(p.MaxStreams),
	}
	partial := rcmgr.PartialLimitConfig{System: raise, Transient: raise, PeerDefault: perPeer,
		ProtocolDefault: wide, ServiceDefault: wide}
	if hosts > 1 {
		// One protocol's or service's streams to one peer as well: every
		// hosted clone's kad requests to its provider meet in one
		// protocol-peer scope, which rcmgr caps at a few hundred; kad-dht
		// drops a provider whose request failed from its table.
		streams := rcmgr.ResourceLimits{
			Streams:         rcmgr.LimitVal(2 * p.StreamsPerPeer * hosts),
			StreamsInbound:  rcmgr.LimitVal(p.StreamsPerPeer * hosts),
			StreamsOutbound: rcmgr.LimitVal(2 * p.StreamsPerPeer * hosts),
		}
		partial.ProtocolPeerDefault, partial.ServicePeerDefault = streams, streams
	}
	limits := partial.Build(rcmgr.DefaultLimits.AutoScale())

	perIP := []rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: p.MaxConnsPerIP}}
	perIP6 := []rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: p.MaxConnsPerIP}}
	rateLimit := rate.Limit{RPS: p.ConnRatePerIP, Burst: p.ConnBurstPerIP}
	limiter := &rate.Limiter{
		SubnetRateLimiter: rate.SubnetLimiter{
			IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: rateLimit}},
			IPv6SubnetLimits: []rate.SubnetLimit{{PrefixLength: 56, Limit: rateLimit}},
			GracePeriod:      time.Minute,
		},
	}
	opts := []rcmgr.Option{rcmgr.WithLimitPerSubnet(perIP, perIP6), rcmgr.WithConnRateLimiters(limiter)}
	if !metrics {
		opts = append(opts, rcmgr.WithMetricsDisabled())
	}
	if p.LimitLoopback {
		// No network-prefix exemptions: loopback counts like any address.
		opts = append(opts, rcmgr.WithNetworkPrefixLimit([]rcmgr.NetworkPrefixLimit{}, []rcmgr.NetworkPrefixLimit{}))
	} else {
		// Loopback stays unlimited, as in rcmgr's defaults (demo, tests).
		limiter.NetworkPrefixLimits = []rate.PrefixLimit{
			{Prefix: netip.MustParsePrefix("127.0.0.0/8")},
			{Prefix: netip.MustParsePrefix("::1/128")},
		}
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits), opts...)
	if err != nil {
		return nil, fmt.Errorf("node: resource manager: %w", err)
	}
	return rm, nil
}

// newConnManager builds the connection manager from p's watermarks.
func newConnManager(p Params) (*connmgr.BasicConnMgr, error) {
	opts := []connmgr.Option{connmgr.WithGracePeriod(p.ConnGrace)}
	if p.ConnCheck > 0 {
		opts = append(opts, connmgr.WithSilencePeriod(p.ConnCheck))
	}
	cm, err := connmgr.NewConnManager(p.ConnsLow, p.ConnsHigh, opts...)
	if err != nil {
		return nil, fmt.Errorf("node: connection manager: %w", err)
	}
	return cm, nil
}
