package abuse

import (
	"context"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// HistoryFetch asks target (a sequencer or a clone) for entries 1..
// netproto.MaxHistoryBatch of doc, as h, which is no member of it. Accepted
// means the target served entries (Items says how many); an empty answer,
// an error reply or a reset is a refusal.
func HistoryFetch(ctx context.Context, h host.Host, target peer.AddrInfo, doc docsync.DocID) Result {
	t := newTally()
	if err := connect(ctx, h, target); err != nil {
		t.add(false, failed, netproto.ShortError(err))
		return t.result()
	}
	rctx, cancel := context.WithTimeout(ctx, PerRequest)
	defer cancel()
	entries, err := netproto.FetchHistory(rctx, h, target.ID, doc, 1, netproto.MaxHistoryBatch)
	o, why := classify(err)
	switch {
	case len(entries) > 0:
		o = accepted // served, even if the stream then failed
	case o == accepted:
		o, why = refused, "no entries served"
	}
	t.add(o != failed, o, why)
	r := t.result()
	r.Items = len(entries)
	return r
}
