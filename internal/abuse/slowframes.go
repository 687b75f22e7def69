package abuse

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// SlowFrames opens n streams to target on the device link (link.Protocol)
// and on each sends only a uvarint length prefix announcing a frame of
// announce bytes, never the frame, before any Hello has been authorized.
// It holds every stream open until ctx ends, then resets them all.
//
// Accepted counts streams the target still held when ctx ended; Refused
// those it reset or closed before (the reason says after how long, in
// whole seconds: a refusal at once, or a read deadline); Errors those that
// did not open or take the prefix.
func SlowFrames(ctx context.Context, h host.Host, target peer.AddrInfo, n int, announce uint64) Result {
	t := newTally()
	if err := connect(ctx, h, target); err != nil {
		t.add(false, failed, netproto.ShortError(err))
		return t.result()
	}
	prefix := binary.AppendUvarint(nil, announce)
	var held sync.WaitGroup
	each(ctx, n, Parallel, func(int) {
		st, err := openSlow(ctx, h, target.ID, prefix)
		if err != nil {
			_, why := classify(err)
			t.add(false, failed, why)
			return
		}
		held.Add(1)
		go func() {
			defer held.Done()
			t.hold(ctx, st)
		}()
	})
	held.Wait()
	return t.result()
}

// openSlow opens one stream and writes the length prefix.
func openSlow(ctx context.Context, h host.Host, p peer.ID, prefix []byte) (network.Stream, error) {
	sctx, cancel := context.WithTimeout(ctx, PerRequest)
	defer cancel()
	st, err := h.NewStream(sctx, p, link.Protocol)
	if err != nil {
		return nil, err
	}
	_ = st.SetWriteDeadline(time.Now().Add(PerRequest))
	if _, err := st.Write(prefix); err != nil {
		_ = st.Reset()
		return nil, err
	}
	return st, nil
}

// hold keeps st open until ctx ends or the target ends it, and records
// which came first.
func (t *tally) hold(ctx context.Context, st network.Stream) {
	start := time.Now()
	ended := make(chan struct{})
	go func() {
		var b [64]byte
		for {
			if _, err := st.Read(b[:]); err != nil {
				close(ended)
				return
			}
		}
	}()
	select {
	case <-ended:
		t.add(true, refused, fmt.Sprintf("ended by the target after %ds", int(time.Since(start).Seconds())))
	case <-ctx.Done():
		t.add(true, accepted, "")
	}
	_ = st.Reset()
	<-ended
}
