package blobxfer

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// IdleTimeout bounds every wait for the other side's next frame.
const IdleTimeout = 30 * time.Second

// Pull gets ref's DAG from peer from into dst: blocks dst holds are not
// asked for, every block is checked against its CID before it is stored,
// and the content against ref's SHA-256 and size at the end. progress,
// if not nil, hears the leaf bytes held so far (held before or received)
// out of ref.Size. A device pulls from its clone with it; a cut transfer
// is resumed by calling Pull again.
func Pull(ctx context.Context, h host.Host, from peer.ID, ref boxostore.Ref, dst *boxostore.Store, progress func(done, total uint64)) (Stats, error) {
	return PullAs(ctx, h, from, nil, ref, dst, progress)
}

// PullAs is Pull for a clone: cert is the puller clone's owner
// certificate (h must be that clone), which the giver checks before its
// authorizer decides.
func PullAs(ctx context.Context, h host.Host, from peer.ID, cert *dht.OwnerCert, ref boxostore.Ref, dst *boxostore.Store, progress func(done, total uint64)) (Stats, error) {
	hello := &Msg{Kind: KindHello, Mode: ModeGet, Ref: ref}
	if cert != nil {
		raw, err := cert.Marshal()
		if err != nil {
			return Stats{}, err
		}
		hello.Cert = raw
	}
	start := time.Now()
	c, st, stop, err := open(ctx, h, from, hello)
	if err != nil {
		return Stats{}, err
	}
	defer stop()
	p := &puller{c: c, ref: ref, dst: dst, progress: progress, ctx: ctx, start: start}
	stats, err := p.pull()
	// The done frame is written (also on failure): close, do not reset, so
	// that the other side reads it.
	_ = st.Close()
	return stats, err
}

// Push uploads ref's DAG from src to the clone to (a device's own clone):
// the clone pulls over the stream, so it asks only for the blocks it
// lacks (nothing, if it holds the blob), and checks each block and then
// the content before it answers. progress hears the leaf bytes sent.
func Push(ctx context.Context, h host.Host, to peer.ID, ref boxostore.Ref, src *boxostore.Store, progress func(done, total uint64)) (Stats, error) {
	c, st, stop, err := open(ctx, h, to, &Msg{Kind: KindHello, Mode: ModePut, Ref: ref})
	if err != nil {
		return Stats{}, err
	}
	defer stop()
	stats, err := give(c, ref, src, progress)
	_ = st.Close()
	return stats, err
}

// open opens a stream to p and writes the hello; stop releases the
// context's hold on the stream.
func open(ctx context.Context, h host.Host, p peer.ID, hello *Msg) (*conn, network.Stream, func() bool, error) {
	if _, err := newBudget(hello.Ref); err != nil {
		return nil, nil, nil, err
	}
	st, err := h.NewStream(ctx, p, Protocol)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	c := &conn{r: bufio.NewReader(st), w: st,
		refresh:      func() { _ = st.SetReadDeadline(time.Now().Add(IdleTimeout)) },
		refreshWrite: func() { _ = st.SetWriteDeadline(time.Now().Add(IdleTimeout)) }}
	if err := c.write(hello); err != nil {
		stop()
		_ = st.Reset()
		return nil, nil, nil, err
	}
	return c, st, stop, nil
}
