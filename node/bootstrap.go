package node

import (
	"context"
	"log/slog"
	"sync"
	"time"

	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
)

// bootstrapper keeps a node connected to its configured providers: it dials
// them all on start, re-dials any it loses (a provider restart, an idle
// trim) with exponential backoff, and refreshes the DHT routing table on
// every new provider connection so the node is back in the DHT by itself.
// A lazy node (Params.IdleConnTimeout) keeps them in its routing table
// instead: it dials a provider only while the table lacks it.
//
// It owns one goroutine (run); dials happen in short-lived goroutines whose
// results come back to it on a channel. Timing uses package time only, so
// under testing/synctest it runs on virtual time.
type bootstrapper struct {
	h     host.Host
	kad   *kaddht.IpfsDHT
	peers []peer.AddrInfo
	p     Params
	rand  func() float64
	log   *slog.Logger
	m     *metrics

	joinOnce sync.Once
	joined   chan struct{}
}

// emptyTableRecheck is how soon to look again when connected to a provider
// whose identification kad-dht has not processed yet.
const emptyTableRecheck = 50 * time.Millisecond

// tableGrace is how long a provider stays connected with the routing
// table empty before the bootstrapper adds it itself (kad-dht's lookup
// check times out after 10 s).
const tableGrace = 15 * time.Second

type providerState struct {
	info      peer.AddrInfo
	connected time.Time // since when it has been connected (zero: it is not)
	backoff   backoff
	next      time.Time // earliest next dial
	dialing   bool
}

type dialResult struct {
	id  peer.ID
	err error
}

func newBootstrapper(h host.Host, kad *kaddht.IpfsDHT, peers []peer.AddrInfo, p Params, rand func() float64, log *slog.Logger, m *metrics) *bootstrapper {
	b := &bootstrapper{h: h, kad: kad, p: p, rand: rand, log: log, m: m, joined: make(chan struct{})}
	for _, ai := range peers {
		if ai.ID == h.ID() {
			continue // a provider lists every provider, itself included
		}
		b.peers = append(b.peers, ai)
		// Keep the configured addresses for good: kad-dht and the
		// directory dial providers by ID long after the first connection.
		h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
	}
	if len(b.peers) == 0 {
		b.markJoined() // the first provider of a network has no one to join
	}
	return b
}

// Joined is closed once the node is connected to at least one provider.
func (b *bootstrapper) Joined() <-chan struct{} { return b.joined }

func (b *bootstrapper) markJoined() { b.joinOnce.Do(func() { close(b.joined) }) }

func (b *bootstrapper) run(ctx context.Context) {
	if len(b.peers) == 0 {
		return
	}
	// Identification is when kad-dht learns a peer speaks its protocol and
	// adds it to the routing table: a reason to look again.
	sub, err := b.h.EventBus().Subscribe([]any{
		new(event.EvtPeerConnectednessChanged),
		new(event.EvtPeerIdentificationCompleted),
	})
	if err != nil {
		b.log.Error("bootstrap: subscribe to connectedness events", "err", err)
		return
	}
	defer sub.Close()

	states := make(map[peer.ID]*providerState, len(b.peers))
	for _, ai := range b.peers {
		states[ai.ID] = &providerState{info: ai, backoff: newBackoff(b.p.BackoffMin, b.p.BackoffMax, b.p.BackoffJitter)}
	}
	results := make(chan dialResult, len(b.peers)) // buffered: dialers never block on exit
	var dials sync.WaitGroup
	defer dials.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()

	for {
		now := time.Now()
		wait := b.p.RecheckInterval
		connected := 0
		for _, st := range states {
			if b.h.Network().Connectedness(st.info.ID) == network.Connected {
				connected++
				if st.connected.IsZero() {
					st.connected = now
				}
				continue
			}
			st.connected = time.Time{}
			if st.dialing || (b.lazy() && b.inTable(st.info.ID)) {
				continue // a lazy node dials a provider in its table when it needs it
			}
			if now.Before(st.next) {
				wait = min(wait, st.next.Sub(now))
				continue
			}
			st.dialing = true
			dials.Add(1)
			go func(ai peer.AddrInfo) {
				defer dials.Done()
				results <- dialResult{id: ai.ID, err: b.dial(ctx, ai)}
			}(st.info)
		}
		b.m.connectedProviders.Set(float64(connected))
		if connected > 0 {
			if b.kad.RoutingTable().Size() > 0 {
				// Joined means usable: a provider connection alone is not
				// enough for a DHT put until kad has it in its table.
				b.markJoined()
			} else if b.addToTable(states, now) > 0 {
				b.markJoined()
			} else {
				// Connected but nobody in the table yet: identify is still
				// running (kad adds the peer right after it), or the table
				// was emptied. Look again shortly.
				wait = min(wait, emptyTableRecheck)
			}
		}

		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case ev, open := <-sub.Out():
			if !open {
				return // the event bus is closing: the host is going away
			}
			e, ok := ev.(event.EvtPeerConnectednessChanged)
			if !ok {
				continue // identification: re-evaluate at the top
			}
			st, ok := states[e.Peer]
			if !ok {
				continue
			}
			if e.Connectedness == network.Connected {
				st.backoff.reset()
				b.refreshOn(e.Peer)
			} else if !st.dialing && !b.lazy() {
				// (A lazy node's provider, closed as idle or lost, stays
				// in the table until a query to it fails; it is dialed
				// again only then.)
				st.next = time.Now().Add(st.backoff.next(b.rand()))
				b.log.Info("bootstrap: lost provider, will re-dial", "provider", e.Peer, "after", st.next.Sub(time.Now()))
			}
		case r := <-results:
			st := states[r.id]
			st.dialing = false
			if r.err != nil {
				b.m.bootstrapDials.WithLabelValues("error").Inc()
				delay := st.backoff.next(b.rand())
				st.next = time.Now().Add(delay)
				b.log.Debug("bootstrap: dial failed", "provider", r.id, "err", r.err, "retry_in", delay)
				continue
			}
			b.m.bootstrapDials.WithLabelValues("ok").Inc()
			st.backoff.reset()
			b.log.Info("bootstrap: connected to provider", "provider", r.id)
			b.refreshOn(r.id)
		case <-timer.C:
		}
	}
}

// lazy reports whether the node keeps providers in its routing table
// rather than connected (Params.IdleConnTimeout): kad-dht dials one when
// a query needs it, and the bootstrapper only when it left the table (a
// query to it failed) or was never in it.
func (b *bootstrapper) lazy() bool { return b.p.IdleConnTimeout > 0 }

func (b *bootstrapper) inTable(id peer.ID) bool { return b.kad.RoutingTable().Find(id) != "" }

// refreshOn refreshes the routing table on a new connection to provider
// id, so that a node whose providers restarted is back in the DHT by
// itself. A lazy node's provider connections come and go with its
// queries: it refreshes only for a provider its table lacks.
func (b *bootstrapper) refreshOn(id peer.ID) {
	if b.lazy() && b.inTable(id) {
		return
	}
	b.kad.RefreshRoutingTable()
}

// addToTable puts the connected providers into the routing table and
// returns how many it added. kad-dht adds a new peer only once identify
// said it speaks the DHT protocol and a lookup check (one request with a
// timeout) passed, and forgets a peer whose check failed: under a
// provider busy with hundreds of clones joining at once, the node stayed
// connected with an empty table, never joined. A configured provider
// runs a DHT server by definition and needs neither check.
func (b *bootstrapper) addToTable(states map[peer.ID]*providerState, now time.Time) int {
	added := 0
	for id, st := range states {
		// kad-dht's own way first: it adds the provider right after
		// identify and a passed check, with gossipsub and the rest of
		// the host aware of the peer by then.
		if st.connected.IsZero() || now.Sub(st.connected) < tableGrace {
			continue
		}
		if ok, err := b.kad.RoutingTable().TryAddPeer(id, true, false); ok && err == nil {
			added++
		}
	}
	return added
}

// dial connects to one provider, bypassing the swarm's own dial backoff: the
// bootstrapper's backoff decides when to try again.
func (b *bootstrapper) dial(ctx context.Context, ai peer.AddrInfo) error {
	ctx, cancel := context.WithTimeout(ctx, b.p.DialTimeout)
	defer cancel()
	ctx = network.WithForceDirectDial(ctx, "c2c bootstrap")
	return b.h.Connect(ctx, ai)
}
