package abuse

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Tuning of every attack.
const (
	// Parallel is how many streams an attack keeps in flight at once
	// (below libp2p's default of 64 inbound streams per protocol and peer,
	// so the target's resource manager does not refuse them for that).
	Parallel = 16
	// PerRequest bounds one request-reply exchange.
	PerRequest = 10 * time.Second
)

// NewHost starts an attacker: a libp2p host with a fresh random Ed25519
// identity, listening on 127.0.0.1 only, with no resource limits of its own
// (the attacker's own resource manager must not cap the attack).
func NewHost() (host.Host, error) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	h, err := libp2p.New(libp2p.Identity(key),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay())
	if err != nil {
		return nil, fmt.Errorf("abuse: attacker host: %w", err)
	}
	return h, nil
}

// connect dials the target once, so that a failure to reach it is one
// error and not n.
func connect(ctx context.Context, h host.Host, target peer.AddrInfo) error {
	cctx, cancel := context.WithTimeout(ctx, PerRequest)
	defer cancel()
	if err := h.Connect(cctx, target); err != nil {
		return fmt.Errorf("abuse: reach %s: %w", target.ID, err)
	}
	return nil
}

// each runs f(i) for i in 0..n-1 with at most par calls at once, and stops
// starting new ones when ctx ends. It returns how many it started.
func each(ctx context.Context, n, par int, f func(i int)) int {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	started := 0
	for i := range n {
		select {
		case <-ctx.Done():
		case sem <- struct{}{}:
		}
		if ctx.Err() != nil {
			break
		}
		started++
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
	return started
}
