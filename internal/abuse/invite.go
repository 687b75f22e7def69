package abuse

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// JunkInvitation returns one encoded invitation to a document that does
// not exist: a random document ID and a random sequencer key, no address
// hints. It is the only place that knows the invitation's wire format:
// adapt it when that format changes (e.g. once invitations are signed).
func JunkInvitation() ([]byte, error) {
	inv := &netproto.Invitation{Sequencer: make(ed25519.PublicKey, ed25519.PublicKeySize), Role: docsync.RoleWriter}
	if _, err := rand.Read(inv.Doc[:]); err != nil {
		return nil, err
	}
	if _, err := rand.Read(inv.Sequencer); err != nil {
		return nil, err
	}
	return inv.Marshal()
}

// InviteFlood sends n junk invitations (JunkInvitation) to target on
// netproto.InviteProtocol, Parallel at a time, each on its own stream.
// Accepted counts invitations the target answered with OK.
func InviteFlood(ctx context.Context, h host.Host, target peer.AddrInfo, n int) Result {
	t := newTally()
	if err := connect(ctx, h, target); err != nil {
		t.add(false, failed, netproto.ShortError(err))
		return t.result()
	}
	each(ctx, n, Parallel, func(int) {
		b, err := JunkInvitation()
		if err != nil {
			t.add(false, failed, err.Error())
			return
		}
		t.request(ctx, h, target.ID, netproto.InviteProtocol, b)
	})
	return t.result()
}
