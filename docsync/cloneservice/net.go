package cloneservice

import (
	"context"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Net is how the loop's policies (send and resubmit, fetch and its
// retries, member dials) reach peers off the topics. The default is the
// host; WithNet plugs in another, so that a unit test sees what the
// policies send without a network.
type Net interface {
	// Request sends one request on a fresh stream and returns the reply
	// (netproto.Request).
	Request(ctx context.Context, p peer.ID, proto protocol.ID, body []byte, limit int) ([]byte, error)
	// FetchHistory asks p for doc's entries from..to (netproto.FetchHistory).
	FetchHistory(ctx context.Context, p peer.ID, doc docsync.DocID, from, to uint64) ([]*docsync.Entry, error)
	// Connected reports whether a connection to p is up.
	Connected(p peer.ID) bool
	// PeerInfo is what this node knows of p's addresses.
	PeerInfo(p peer.ID) peer.AddrInfo
	// Connect dials ai.
	Connect(ctx context.Context, ai peer.AddrInfo) error
}

// Topic is what the policies use of a document topic (a *pubsub.Topic):
// they publish envelopes on the submit topic and heads on the heads topic.
type Topic interface {
	Publish(ctx context.Context, data []byte, opts ...pubsub.PubOpt) error
	ListPeers() []peer.ID
}

// hostNet is the default Net.
type hostNet struct{ h host.Host }

func (n hostNet) Request(ctx context.Context, p peer.ID, proto protocol.ID, body []byte, limit int) ([]byte, error) {
	return netproto.Request(ctx, n.h, p, proto, body, limit)
}

func (n hostNet) FetchHistory(ctx context.Context, p peer.ID, doc docsync.DocID, from, to uint64) ([]*docsync.Entry, error) {
	return netproto.FetchHistory(ctx, n.h, p, doc, from, to)
}

func (n hostNet) Connected(p peer.ID) bool {
	return n.h.Network().Connectedness(p) == network.Connected
}

func (n hostNet) PeerInfo(p peer.ID) peer.AddrInfo { return n.h.Peerstore().PeerInfo(p) }

func (n hostNet) Connect(ctx context.Context, ai peer.AddrInfo) error { return n.h.Connect(ctx, ai) }
