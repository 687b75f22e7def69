// Package reconnect closes a connection that a peer has replaced.
//
// A process killed with SIGKILL (or a crashed machine) closes none of its
// QUIC connections: the other side keeps each one until quic's idle timeout
// (30 s) ends it. If the process restarts with the same identity and dials
// again, the other host has two connections to the same peer ID, and
// gossipsub, which keeps one outbound stream per peer, goes on writing to
// the stream on the dead one: it opens none on the new connection, so the
// restarted peer never hears the other's subscriptions and gets no gossip
// from it. Nor does the timeout mend it: when the dead stream finally ends,
// gossipsub reopens its own stream but forgets the subscriptions the peer
// sent on the new connection, which the peer never sends again (a member
// restarted this way still had no gossip after 70 s).
//
// A Watcher notices a peer's new connection while older ones are open and,
// before the new connection carries its first stream, probes each older one
// (a multistream negotiation on a fresh stream over that very connection).
// A connection that does not answer within a few of its round trips (quic's
// estimate; Params) is closed: gossipsub's stream on it ends, it reopens one
// on the live connection with its subscriptions, and it reads the peer's
// subscriptions there afterwards. A connection that answers is left alone
// (two live connections, e.g. after a simultaneous dial, are legitimate).
//
// "Afterwards" needs a barrier: gossipsub learns that its outbound stream
// on the closed connection ended on a goroutine of its own, and its event
// loop picks at random between that news and the new connection's
// messages. Handled second, the dead stream's end would erase the
// subscriptions the peer had just sent on the new connection, which it
// never sends again. So a host's gossipsub reports to its Watcher (Gossip,
// a pubsub tracer option), and Connected returns, letting the new
// connection's streams be read, only once gossipsub has dropped the
// outbound stream it had on a connection the Watcher closed. (Its inbound
// stream there ends on a goroutine too, with no report; gossipsub orders
// it before a new inbound stream from the peer except in a window of a
// few instructions, which the barrier's wait makes narrower still.)
package reconnect

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"
	"github.com/quic-go/quic-go"
)

// Params tunes a Watcher.
type Params struct {
	// ProbeTimeout bounds one probe of an older connection; a connection
	// that has not answered by then is closed. The new connection waits
	// for it (see Connected), so a peer restarted after kill -9 is
	// answered that much later by each peer that held its old connection:
	// far below quic's idle timeout (30 s), well above a round trip
	// between data centres. It is the whole budget where the connection's
	// round-trip time is unknown (TCP, whose connections a killed process's
	// kernel closes anyway).
	ProbeTimeout time.Duration
	// MinProbeTimeout is the least a probe of a QUIC connection is given:
	// its budget is RTTFactor times quic's own estimate of a round trip
	// plus four deviations, within [MinProbeTimeout, ProbeTimeout]. The
	// floor leaves a loaded machine time to schedule the answer: closing
	// a connection that is alive would lose subscriptions the same way.
	MinProbeTimeout time.Duration
	RTTFactor       int
}

// DefaultParams are the production settings.
func DefaultParams() Params {
	return Params{ProbeTimeout: time.Second, MinProbeTimeout: 250 * time.Millisecond, RTTFactor: 3}
}

// ErrParams: a Params field is out of range.
var ErrParams = errors.New("reconnect: invalid params")

// Validate reports a Params field out of range.
func (p Params) Validate() error {
	if p.ProbeTimeout <= 0 || p.MinProbeTimeout <= 0 || p.MinProbeTimeout > p.ProbeTimeout || p.RTTFactor < 1 {
		return ErrParams
	}
	return nil
}

// budget is how long a probe of a connection with smoothed round-trip time
// srtt and deviation dev waits (srtt 0: unknown).
func (p Params) budget(srtt, dev time.Duration) time.Duration {
	if srtt <= 0 {
		return p.ProbeTimeout
	}
	return min(max(time.Duration(p.RTTFactor)*(srtt+4*dev), p.MinProbeTimeout), p.ProbeTimeout)
}

// rtt is quic's round-trip estimate of c, or zeros for other transports.
func rtt(c network.Conn) (srtt, dev time.Duration) {
	var qc *quic.Conn
	if !c.As(&qc) || qc == nil {
		return 0, 0
	}
	st := qc.ConnectionStats()
	return st.SmoothedRTT, st.MeanDeviation
}

// Stats counts what a Watcher did.
type Stats struct {
	Probed int64 // older connections probed
	Closed int64 // of them, closed because they did not answer
	// Drained counts closed connections whose gossipsub stream Connected
	// saw gossipsub drop before it returned (with Gossip only).
	Drained int64
}

// Watcher probes a peer's older connections when it connects again. Start
// one with Watch; stop it with Close before the host closes.
type Watcher struct {
	h      host.Host
	p      Params
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	probed, closed, drained atomic.Int64
	gossip                  *gossipTracer // nil until Gossip is called
	gossipMu                sync.Mutex
}

// Watch starts watching h's new connections. log may be nil.
func Watch(h host.Host, p Params, log *slog.Logger) (*Watcher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{h: h, p: p, log: log, ctx: ctx, cancel: cancel}
	h.Network().Notify(w)
	return w, nil
}

// Close stops watching; probes under way end at once.
func (w *Watcher) Close() error {
	// Cancel first: StopNotify waits for the swarm's notification lock,
	// which a Connected call holds while its probes run. (Under synctest a
	// goroutine blocked on that lock is not durably blocked, so virtual
	// time stops and a probe's own timeout never fires.)
	w.cancel()
	w.h.Network().StopNotify(w)
	return nil
}

// Stats returns the counters.
func (w *Watcher) Stats() Stats {
	return Stats{Probed: w.probed.Load(), Closed: w.closed.Load(), Drained: w.drained.Load()}
}

// Connected implements network.Notifiee: it probes the peer's other
// connections and closes those that do not answer, before it returns.
//
// It blocks on purpose. The swarm calls Connected before the new
// connection accepts its first stream, so the dead connection is closed
// (and the streams on it reset) before the peer's new gossipsub stream,
// with its subscriptions, is read. Closing it later is too late: gossipsub,
// seeing its outbound stream end while the peer is still connected, drops
// the subscriptions it has learnt from the peer (on the new connection,
// which never sends them again) and reopens only its own stream. The wait
// is one round trip when the old connections are alive, the probe's budget
// (Params) when not, and only when a peer already connected connects again.
// With Gossip, it also waits (at most ProbeTimeout) until gossipsub has
// dropped its outbound stream on a connection it closed; without it, that
// gossipsub handles the stream's end first is likely, not promised.
func (w *Watcher) Connected(n network.Network, c network.Conn) {
	var older []network.Conn
	for _, old := range n.ConnsToPeer(c.RemotePeer()) {
		if old != c && !old.IsClosed() {
			older = append(older, old)
		}
	}
	if len(older) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, old := range older {
		wg.Go(func() { w.probe(old) })
	}
	wg.Wait()
}

func (w *Watcher) probe(c network.Conn) {
	w.probed.Add(1)
	err := w.answers(c)
	if err == nil || w.ctx.Err() != nil {
		return
	}
	w.closed.Add(1)
	w.log.Info("closing a connection that a reconnected peer no longer answers on",
		"peer", c.RemotePeer(), "remote", c.RemoteMultiaddr(), "err", err)
	gt := w.tracer()
	var dropped <-chan struct{}
	if gt != nil && gt.carries(c) {
		dropped = gt.expectDrop(c.RemotePeer())
	}
	_ = c.Close() // resets its streams now; notifications go on a goroutine
	if dropped == nil {
		return
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.p.ProbeTimeout)
	defer cancel()
	select {
	case <-dropped:
		w.drained.Add(1)
	case <-ctx.Done():
		w.log.Warn("gossipsub did not drop its stream on a closed connection in time",
			"peer", c.RemotePeer(), "err", ctx.Err())
	}
}

// Gossip returns the option that has a gossipsub instance on w's host
// report its outbound streams to w (pass it to pubsub.NewGossipSub), so
// that Connected waits for gossipsub to drop its stream on a connection
// w closed (see the package doc). Call it at most once per Watcher, for
// the host's one gossipsub.
func (w *Watcher) Gossip() pubsub.Option {
	w.gossipMu.Lock()
	defer w.gossipMu.Unlock()
	if w.gossip == nil {
		w.gossip = &gossipTracer{protos: map[peer.ID]protocol.ID{}, drops: map[peer.ID][]chan struct{}{}}
	}
	return pubsub.WithRawTracer(w.gossip)
}

func (w *Watcher) tracer() *gossipTracer {
	w.gossipMu.Lock()
	defer w.gossipMu.Unlock()
	return w.gossip
}

// gossipTracer follows gossipsub's outbound streams: the protocol of each
// peer's, and when gossipsub drops one. gossipsub calls it from its event
// loop, after it has forgotten the peer's subscriptions, so a drop seen
// here is one whose effects are over.
type gossipTracer struct {
	mu     sync.Mutex
	protos map[peer.ID]protocol.ID     // the peer's outbound stream's protocol
	drops  map[peer.ID][]chan struct{} // closed at the peer's next drop
}

// carries says whether gossipsub's outbound stream to c's peer is on c.
func (t *gossipTracer) carries(c network.Conn) bool {
	t.mu.Lock()
	proto, ok := t.protos[c.RemotePeer()]
	t.mu.Unlock()
	if !ok {
		return false
	}
	for _, s := range c.GetStreams() {
		if s.Stat().Direction == network.DirOutbound && s.Protocol() == proto {
			return true
		}
	}
	return false
}

// expectDrop returns a channel closed when gossipsub next drops its
// outbound stream to p.
func (t *gossipTracer) expectDrop(p peer.ID) <-chan struct{} {
	ch := make(chan struct{})
	t.mu.Lock()
	t.drops[p] = append(t.drops[p], ch)
	t.mu.Unlock()
	return ch
}

func (t *gossipTracer) OnNewOutboundStream(p peer.ID, proto protocol.ID) {
	t.mu.Lock()
	t.protos[p] = proto
	t.mu.Unlock()
}

func (t *gossipTracer) OnClosedOutboundStream(p peer.ID) {
	t.mu.Lock()
	delete(t.protos, p)
	chs := t.drops[p]
	delete(t.drops, p)
	t.mu.Unlock()
	for _, ch := range chs {
		close(ch)
	}
}

func (*gossipTracer) Join(string)                           {}
func (*gossipTracer) Leave(string)                          {}
func (*gossipTracer) Graft(peer.ID, string)                 {}
func (*gossipTracer) Prune(peer.ID, string)                 {}
func (*gossipTracer) ValidateMessage(*pubsub.Message)       {}
func (*gossipTracer) DeliverMessage(*pubsub.Message)        {}
func (*gossipTracer) RejectMessage(*pubsub.Message, string) {}
func (*gossipTracer) DuplicateMessage(*pubsub.Message)      {}
func (*gossipTracer) ThrottlePeer(peer.ID)                  {}
func (*gossipTracer) RecvRPC(*pubsub.RPC)                   {}
func (*gossipTracer) SendRPC(*pubsub.RPC, peer.ID)          {}
func (*gossipTracer) DropRPC(*pubsub.RPC, peer.ID)          {}
func (*gossipTracer) UndeliverableMessage(*pubsub.Message)  {}

// answers opens a stream on c itself and negotiates the ping protocol: any
// answer, even "not supported", proves the remote still holds c.
func (w *Watcher) answers(c network.Conn) error {
	ctx, cancel := context.WithTimeout(w.ctx, w.p.budget(rtt(c)))
	defer cancel()
	s, err := c.NewStream(ctx)
	if errors.Is(err, network.ErrResourceLimitExceeded) {
		return nil // this host's own limit says nothing about the peer
	}
	if err != nil {
		return err
	}
	defer s.Reset()
	done := make(chan error, 1)
	go func() { done <- msmux.SelectProtoOrFail(ping.ID, s) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		s.Reset() // unblocks the negotiation
		<-done
		return ctx.Err()
	}
	var notSupported msmux.ErrNotSupported[protocol.ID]
	if errors.As(err, &notSupported) {
		return nil
	}
	return err
}

// Disconnected implements network.Notifiee.
func (w *Watcher) Disconnected(network.Network, network.Conn) {}

// Listen implements network.Notifiee.
func (w *Watcher) Listen(network.Network, ma.Multiaddr) {}

// ListenClose implements network.Notifiee.
func (w *Watcher) ListenClose(network.Network, ma.Multiaddr) {}
