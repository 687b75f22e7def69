package dht

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/internal/guard"
	"github.com/clone2clone/c2c/internal/wirebytes"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// ResolveProtocol lets a node without a DHT (a device) ask a provider for
// a peer's addresses: the second half of the C2C paper's "user lookup",
// after FetchCert named the clone. Providers serve it.
const ResolveProtocol = "/c2c/dir/resolve/1.0.0"

// resolveRate bounds one peer's resolve requests on a provider: a request
// for a peer the provider is not connected to costs it a DHT walk.
var resolveRate = guard.Rate{PerSecond: 1, Burst: 8}

// handleResolve answers with the addresses of the peer named in the
// request: from the provider's peerstore when it holds some (a peer it is
// connected to, one it was connected to lately, a clone it hosts:
// HoldAddrs), else from a bounded DHT walk.
func (d *Directory) handleResolve(s network.Stream) {
	defer s.Close()
	d.streamDeadline(s)
	if !d.resolveRate.Allow(s.Conn().RemotePeer(), time.Now()) {
		_ = s.Reset()
		return
	}
	req, err := readFrame(bufio.NewReader(s), maxPeerIDBytes)
	var id peer.ID
	if err == nil {
		id, err = peer.IDFromBytes(req)
	}
	if err != nil {
		_ = s.Reset()
		return
	}
	addrs := d.h.Peerstore().Addrs(id)
	if len(addrs) == 0 {
		if ai, err := d.Resolve(d.ctx, id); err == nil {
			addrs = ai.Addrs
		}
	}
	var w wirebytes.Writer
	w.U16(uint16(min(len(addrs), MaxAddrs)))
	for _, a := range addrs[:min(len(addrs), MaxAddrs)] {
		w.Bytes16(a.Bytes())
	}
	if err := writeFrame(s, w.Buf()); err != nil {
		_ = s.Reset()
	}
}

const maxPeerIDBytes = 128

// ResolveVia asks provider p for the addresses of peer id
// (ResolveProtocol). The answer is a hint: a provider can lie about
// addresses, but the peer it names must still prove its identity when
// dialed.
func ResolveVia(ctx context.Context, h host.Host, p, id peer.ID) (peer.AddrInfo, error) {
	timeout := DefaultParams().RequestTimeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := h.NewStream(ctx, p, ResolveProtocol)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(timeout))
	if err := writeFrame(s, []byte(id)); err != nil {
		_ = s.Reset()
		return peer.AddrInfo{}, err
	}
	_ = s.CloseWrite()
	resp, err := readFrame(bufio.NewReader(s), maxResolveReply)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("dht: resolve %s via %s: %w", id, p, err)
	}
	addrs, err := decodeAddrs(resp)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	if len(addrs) == 0 {
		return peer.AddrInfo{}, fmt.Errorf("%w: provider %s knows no address of %s", ErrNotFound, p, id)
	}
	return peer.AddrInfo{ID: id, Addrs: addrs}, nil
}

const maxResolveReply = 2 + MaxAddrs*(2+256)

func decodeAddrs(b []byte) ([]ma.Multiaddr, error) {
	r := newReader(b)
	n := r.U16()
	if r.Err() == nil && n > MaxAddrs {
		return nil, fmt.Errorf("%w: %d addresses", ErrTooLarge, n)
	}
	var out []ma.Multiaddr
	for range n {
		ab := field(r)
		if r.Err() != nil {
			break
		}
		a, err := ma.NewMultiaddrBytes(ab)
		if err != nil {
			return nil, fmt.Errorf("%w: address: %v", ErrMalformed, err)
		}
		out = append(out, a)
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return out, nil
}
