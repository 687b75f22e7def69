package cloneservice_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/ot/trace"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Replay a two-author editing trace through two clones and a sequencer on
// loopback, with the public API only: each transaction is one EditBase on
// its author's clone, built against the text it edits, made once that
// clone has seen the transaction's parents, and WaitCommitted returns once
// it is ordered. (This trace's transactions each follow the one before; a
// trace with concurrent transactions needs its patches transformed over
// the edits the parents do not hold.)
func Example_replayTrace() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr, err := trace.LoadConcurrent("testdata/two-authors.json")
	check(err)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := exampleDirectory{}

	seqHost, seqPS := examplePeer(ctx)
	defer seqHost.Close()
	seqKey := seqHost.Peerstore().PrivKey(seqHost.ID())
	seq, err := seqservice.New(seqHost, seqPS, memStore(), seqKey, seqservice.WithLogger(quiet))
	check(err)
	defer seq.Close()

	var clones []*cloneservice.Service
	for i := range tr.Agents {
		h, ps := examplePeer(ctx)
		defer h.Close()
		hpkePriv, hpkePub, err := dht.GenerateHPKEKey()
		check(err)
		id, err := cloneservice.IdentityFromKeys(h.Peerstore().PrivKey(h.ID()), hpkePriv)
		check(err)
		svc, err := cloneservice.New(h, ps, memStore(), id, cloneservice.WithLogger(quiet),
			cloneservice.WithDirectory(dir), cloneservice.WithInvitePolicy(cloneservice.AcceptAll))
		check(err)
		defer svc.Close()
		dir[fmt.Sprint("agent", i)] = cloneservice.Clone{Peer: h.ID(), HPKE: hpkePub, Addrs: h.Addrs()}
		clones = append(clones, svc)
	}

	// Agent 0's clone creates the document and invites agent 1's.
	doc, err := clones[0].Create(ctx, peer.AddrInfo{ID: seqHost.ID(), Addrs: seqHost.Addrs()})
	check(err)
	for i := 1; i < len(clones); i++ {
		member, err := clones[0].Invite(ctx, doc, dir[fmt.Sprint("agent", i)].Peer, fmt.Sprint("agent", i), docsync.RoleWriter)
		check(err)
		fmt.Println("invited agent", i, "as its clone's member ID:", member == clones[i].ID())
	}

	seqOf := make([]uint64, len(tr.Txns)) // the seq at which each txn was committed
	for i, tx := range tr.Txns {
		c := clones[tx.Agent]
		for _, p := range tx.Parents {
			waitSeq(ctx, c, doc, seqOf[p]) // edit on the state after the parents
		}
		check(c.EditBase(ctx, doc, func(base cloneservice.Base) ([]ot.Op, error) {
			ops, n := make([]ot.Op, 0, len(tx.Patches)), base.Len
			for _, p := range tx.Patches {
				op, err := ot.FromPatch(n, p.Pos, p.Del, p.Ins)
				if err != nil {
					return nil, err
				}
				ops, n = append(ops, op), op.TargetLen
			}
			return ops, nil
		}))
		check(c.WaitCommitted(ctx, doc))
		in, err := c.Info(doc)
		check(err)
		seqOf[i] = in.Seq
		fmt.Printf("txn %d: agent %d, %d patch(es), parents %v\n", i, tx.Agent, len(tx.Patches), tx.Parents)
	}
	last := seqOf[len(seqOf)-1]
	for i, c := range clones {
		waitSeq(ctx, c, doc, last)
		text, err := c.Text(doc)
		check(err)
		fmt.Printf("agent %d's clone has the trace's end content: %v\n", i, text == tr.End)
	}
	// Output:
	// invited agent 1 as its clone's member ID: true
	// txn 0: agent 0, 1 patch(es), parents []
	// txn 1: agent 1, 1 patch(es), parents [0]
	// txn 2: agent 0, 2 patch(es), parents [1]
	// txn 3: agent 1, 1 patch(es), parents [2]
	// agent 0's clone has the trace's end content: true
	// agent 1's clone has the trace's end content: true
}

// examplePeer starts a host on loopback with gossipsub as the services
// expect it.
func examplePeer(ctx context.Context) (host.Host, *pubsub.PubSub) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	check(err)
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"))
	check(err)
	ps, err := pubsub.NewGossipSub(ctx, h, netproto.GossipOptions()...)
	check(err)
	return h, ps
}

func memStore() datastore.Batching { return dssync.MutexWrap(datastore.NewMapDatastore()) }

// exampleDirectory is a directory of the example's clones by device name
// (the user is the clone itself).
type exampleDirectory map[string]cloneservice.Clone

func (d exampleDirectory) LookupClone(_ context.Context, _ peer.ID, device string) (cloneservice.Clone, error) {
	if c, ok := d[device]; ok {
		return c, nil
	}
	return cloneservice.Clone{}, fmt.Errorf("no clone for %q", device)
}

func (d exampleDirectory) Resolve(_ context.Context, p peer.ID) (peer.AddrInfo, error) {
	for _, c := range d {
		if c.Peer == p {
			return peer.AddrInfo{ID: p, Addrs: c.Addrs}, nil
		}
	}
	return peer.AddrInfo{}, fmt.Errorf("no clone %s", p)
}

// waitSeq waits until clone c holds doc up to seq (an invited clone
// first has to join it).
func waitSeq(ctx context.Context, c *cloneservice.Service, doc docsync.DocID, seq uint64) {
	for {
		if in, err := c.Info(doc); err == nil && in.Seq >= seq && in.Applied >= seq {
			return
		}
		select {
		case <-ctx.Done():
			panic(ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
