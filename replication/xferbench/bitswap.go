package xferbench

import (
	"context"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/libp2p/go-libp2p/core/peer"
)

// pullBitswap fetches the file the way kubo does: bitswap on both hosts
// (no content routing: the device asks the peer it is connected to), the
// root through a session, then the whole DAG with merkledag.FetchGraph.
func (s *source) pullBitswap(ctx context.Context, d *dev) (pulled, error) {
	ctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	server := bitswap.New(ctx, bsnet.NewFromIpfsHost(s.clone), nil, s.store.Blockstore())
	defer server.Close()
	client := bitswap.New(ctx, bsnet.NewFromIpfsHost(d.h), nil, d.store.Blockstore())
	defer client.Close()
	// Bitswap hears of peers as they connect: reconnect after it started.
	_ = d.h.Network().ClosePeer(s.clone.ID())
	if err := d.h.Connect(ctx, peer.AddrInfo{ID: s.clone.ID(), Addrs: s.clone.Addrs()}); err != nil {
		return pulled{}, err
	}
	dag := merkledag.NewDAGService(blockservice.New(d.store.Blockstore(), client))
	start := time.Now()
	sess := merkledag.NewSession(ctx, dag)
	if _, err := sess.Get(ctx, s.ref.CID); err != nil {
		return pulled{}, err
	}
	p := pulled{first: time.Since(start)}
	if err := merkledag.FetchGraph(ctx, s.ref.CID, dag); err != nil {
		return p, err
	}
	if st, err := client.Stat(); err == nil {
		p.rounds = int(st.MessagesReceived)
	}
	return p, nil
}
