// Package reconnect closes a connection that a peer has replaced.
//
// A process killed with SIGKILL (or a crashed machine) closes none of its
// QUIC connections: the other side keeps each one until quic's idle timeout
// (30 s) ends it. If the process restarts with the same identity and dials
// again, the other host has two connections to the same peer ID, and
// gossipsub, which keeps one outbound stream per peer, goes on writing to
// the stream on the dead one: it never opens a stream on the new
// connection, so the restarted peer never hears the other's subscriptions
// and gets no gossip from it until the old connection times out.
//
// A Watcher notices a peer's new connection while older ones are open and
// probes each older one (a multistream negotiation on a fresh stream over
// that very connection). A connection that does not answer within
// Params.ProbeTimeout is closed: the streams on it end, and gossipsub,
// still connected to the peer, reopens its stream on the live connection
// and resends its subscriptions. A connection that answers is left alone
// (two live connections, e.g. after a simultaneous dial, are legitimate).
package reconnect

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"
)

// Params tunes a Watcher.
type Params struct {
	// ProbeTimeout bounds one probe of an older connection; a connection
	// that has not answered by then is closed. Far below quic's idle
	// timeout (30 s), far above a round trip between data centres.
	ProbeTimeout time.Duration
}

// DefaultParams are the production settings.
func DefaultParams() Params { return Params{ProbeTimeout: 3 * time.Second} }

// ErrParams: a Params field is out of range.
var ErrParams = errors.New("reconnect: invalid params")

// Validate reports a Params field out of range.
func (p Params) Validate() error {
	if p.ProbeTimeout <= 0 {
		return ErrParams
	}
	return nil
}

// Stats counts what a Watcher did.
type Stats struct {
	Probed int64 // older connections probed
	Closed int64 // of them, closed because they did not answer
}

// Watcher probes a peer's older connections when it connects again. Start
// one with Watch; stop it with Close before the host closes.
type Watcher struct {
	h      host.Host
	p      Params
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	probing map[network.Conn]bool

	probed, closed atomic.Int64
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
	w := &Watcher{h: h, p: p, log: log, ctx: ctx, cancel: cancel, probing: map[network.Conn]bool{}}
	h.Network().Notify(w)
	return w, nil
}

// Close stops watching and waits for probes under way (they end at once).
func (w *Watcher) Close() error {
	w.h.Network().StopNotify(w)
	w.cancel()
	w.wg.Wait()
	return nil
}

// Stats returns the counters.
func (w *Watcher) Stats() Stats { return Stats{Probed: w.probed.Load(), Closed: w.closed.Load()} }

// Connected implements network.Notifiee: probe the peer's other
// connections. It must not block, so probes run on goroutines of their own
// (at most one per connection, and connections are bounded by the
// resource manager).
func (w *Watcher) Connected(n network.Network, c network.Conn) {
	for _, old := range n.ConnsToPeer(c.RemotePeer()) {
		if old == c || old.IsClosed() {
			continue
		}
		w.mu.Lock()
		busy := w.probing[old]
		if !busy && w.ctx.Err() == nil {
			w.probing[old] = true
			w.wg.Add(1)
		}
		w.mu.Unlock()
		if busy || w.ctx.Err() != nil {
			continue
		}
		go w.probe(old)
	}
}

func (w *Watcher) probe(c network.Conn) {
	defer w.wg.Done()
	defer func() {
		w.mu.Lock()
		delete(w.probing, c)
		w.mu.Unlock()
	}()
	w.probed.Add(1)
	err := w.answers(c)
	if err == nil || w.ctx.Err() != nil {
		return
	}
	w.closed.Add(1)
	p := c.RemotePeer()
	w.log.Info("a peer reconnected while an older connection to it no longer answers: reconnecting it afresh",
		"peer", p, "remote", c.RemoteMultiaddr(), "err", err)
	_ = c.Close()
	// Closing the dead connection alone is not enough: gossipsub, seeing
	// its outbound stream end while the peer is still connected, forgets
	// the peer's subscriptions (learnt on the live connection, and never
	// resent on it) and reopens only its own stream. Closing every
	// connection to the peer makes both sides forget each other; the
	// redial then makes both open fresh streams and announce their
	// subscriptions again.
	// The addresses to redial, taken before the peerstore forgets them
	// with the connections: identify's, and where the live ones come from.
	ai := w.h.Peerstore().PeerInfo(p)
	for _, live := range w.h.Network().ConnsToPeer(p) {
		if live != c {
			ai.Addrs = append(ai.Addrs, live.RemoteMultiaddr())
		}
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.p.ProbeTimeout)
	defer cancel()
	if err := w.disconnect(ctx, p); err != nil {
		w.log.Info("disconnecting a reconnected peer", "peer", p, "err", err)
		return
	}
	if err := w.h.Connect(ctx, ai); err != nil {
		w.log.Info("redialling a reconnected peer", "peer", p, "err", err)
	}
}

// disconnect closes every connection to p and waits until the host has
// none (a Connect before that would be a no-op on a closing connection).
func (w *Watcher) disconnect(ctx context.Context, p peer.ID) error {
	sub, err := w.h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := w.h.Network().ClosePeer(p); err != nil {
		return err
	}
	for w.h.Network().Connectedness(p) != network.NotConnected {
		select {
		case <-sub.Out():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// answers opens a stream on c itself and negotiates the ping protocol: any
// answer, even "not supported", proves the remote still holds c.
func (w *Watcher) answers(c network.Conn) error {
	ctx, cancel := context.WithTimeout(w.ctx, w.p.ProbeTimeout)
	defer cancel()
	s, err := c.NewStream(ctx)
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
