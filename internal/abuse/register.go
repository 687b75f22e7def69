package abuse

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Identity returns the document identity of the attacker host: its own
// Ed25519 key signs (so envelopes it sends are "sent by their author") and
// a fresh HPKE key, built the way a clone builds its own.
func Identity(h host.Host) (*docsync.Identity, error) {
	key := h.Peerstore().PrivKey(h.ID())
	if key == nil {
		return nil, fmt.Errorf("abuse: host %s has no private key", h.ID())
	}
	hpke, _, err := dht.GenerateHPKEKey()
	if err != nil {
		return nil, err
	}
	return cloneservice.IdentityFromKeys(key, hpke)
}

// Genesis returns the encoded genesis envelope of a new document with a
// random ID, authored and signed by id, to be ordered by the sequencer seq:
// what a clone's Create sends (docsync.Create's first Ready.Submit).
func Genesis(id *docsync.Identity, seq peer.ID) ([]byte, error) {
	pub, err := netproto.MemberOf(seq)
	if err != nil {
		return nil, err
	}
	cfg := docsync.Config{Sequencer: pub[:], Identity: id}
	if _, err := rand.Read(cfg.Doc[:]); err != nil {
		return nil, err
	}
	r, err := docsync.Create(cfg)
	if err != nil {
		return nil, err
	}
	rd := r.Ready()
	if len(rd.Submit) == 0 {
		return nil, fmt.Errorf("abuse: docsync.Create made no genesis")
	}
	return rd.Submit[0].Marshal()
}

// RegisterFlood registers n new documents with the sequencer target, all
// from h's one identity, Parallel at a time on netproto.RegisterProtocol.
// Each genesis is valid: the sequencer has no reason to refuse it but its
// own limits. Accepted counts documents the sequencer ordered.
func RegisterFlood(ctx context.Context, h host.Host, target peer.AddrInfo, n int) Result {
	t := newTally()
	id, err := Identity(h)
	if err == nil {
		err = connect(ctx, h, target)
	}
	if err != nil {
		t.add(false, failed, netproto.ShortError(err))
		return t.result()
	}
	each(ctx, n, Parallel, func(int) {
		b, err := Genesis(id, target.ID)
		if err != nil {
			t.add(false, failed, err.Error())
			return
		}
		t.request(ctx, h, target.ID, netproto.RegisterProtocol, b)
	})
	return t.result()
}
