package abuse

import (
	"context"
	"errors"
	"strings"

	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// request sends body as one frame on a new stream of proto (netproto's
// request-reply exchange, under PerRequest) and records how it ended.
func (t *tally) request(ctx context.Context, h host.Host, target peer.ID, proto protocol.ID, body []byte) {
	rctx, cancel := context.WithTimeout(ctx, PerRequest)
	defer cancel()
	_, err := netproto.Request(rctx, h, target, proto, body, netproto.MaxFrame)
	o, why := classify(err)
	t.add(o != failed, o, why)
}

// classify sorts an exchange's error: nil is accepted; an error reply or a
// reset is the target refusing; anything else
// (no stream, a timeout) is an error. why is a short text for Reasons.
func classify(err error) (outcome, string) {
	switch {
	case err == nil:
		return accepted, ""
	case errors.Is(err, netproto.ErrRefused):
		return refused, refusalText(err)
	case errors.Is(err, network.ErrReset):
		return refused, "stream reset"
	case errors.Is(err, context.DeadlineExceeded):
		return failed, "timeout"
	}
	return failed, netproto.ShortError(err)
}

// refusalText is the target's error text without netproto's prefix.
func refusalText(err error) string {
	s := netproto.ShortError(err)
	if i := strings.Index(s, `"`); i >= 0 {
		s = strings.Trim(s[i:], `"`)
	}
	return s
}
