package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// lookUpClone finds this device's clone through a provider's directory
// (the C2C paper's "user lookup"): it fetches the owner certificate of
// (user, name), checks it names this device's key and is valid now, asks
// the provider for the clone's addresses, and returns the clone's /p2p
// multiaddr, saying what it found on note. The lookup uses a short-lived
// client host with the device key; afterwards the device talks only to
// its clone.
func lookUpClone(ctx context.Context, note io.Writer, provider string, cfg deviceConfig) (string, error) {
	if cfg.User == "" || cfg.Name == "" || cfg.Key == "" {
		return "", errors.New("need --user, --name and --key")
	}
	pa, err := ma.NewMultiaddr(provider)
	if err != nil {
		return "", fmt.Errorf("--provider: %w", err)
	}
	prov, err := peer.AddrInfoFromP2pAddr(pa)
	if err != nil {
		return "", fmt.Errorf("--provider must end in /p2p/<provider ID>: %w", err)
	}
	user, err := peer.Decode(cfg.User)
	if err != nil {
		return "", fmt.Errorf("--user: %w", err)
	}
	key, err := keystore.ReadPrivKey(cfg.Key)
	if err != nil {
		return "", fmt.Errorf("device key: %w", err)
	}
	h, err := libp2p.New(libp2p.Identity(key), libp2p.NoListenAddrs)
	if err != nil {
		return "", err
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.Connect(ctx, *prov); err != nil {
		return "", fmt.Errorf("reach provider %s: %w", prov.ID, err)
	}
	cert, err := fetchCertPatiently(ctx, h, prov.ID, user, cfg.Name)
	if err != nil {
		return "", fmt.Errorf("look up %s/%s: %w", user, cfg.Name, err)
	}
	if cert.DeviceKey != h.ID() {
		return "", fmt.Errorf("the directory's certificate for %s/%s authorizes device key %s, not this one (%s): enroll this device again",
			user, cfg.Name, cert.DeviceKey, h.ID())
	}
	if err := cert.Verify(time.Now()); err != nil {
		return "", fmt.Errorf("owner certificate of %s/%s: %w", user, cfg.Name, err)
	}
	ai, err := dht.ResolveVia(ctx, h, prov.ID, cert.Clone)
	if err != nil {
		return "", err
	}
	// The provider may still list addresses the clone had before it moved
	// (to another port or another provider): keep the one that answers.
	at := ai.Addrs[0]
	if err := h.Connect(ctx, ai); err == nil {
		if conns := h.Network().ConnsToPeer(ai.ID); len(conns) > 0 {
			at = conns[0].RemoteMultiaddr()
		}
	}
	addr := fmt.Sprintf("%s/p2p/%s", at, ai.ID)
	fmt.Fprintf(note, "looked up in %s's directory: certificate of %s/%s verified; clone %s at %s\n",
		prov.ID, user, cfg.Name, cert.Clone, at)
	return addr, nil
}

// certReplicationWait is how long a device keeps asking a provider that
// does not hold its clone's certificate yet: a clone publishes to the DHT,
// and the providers' full replicas catch up by gossip and anti-entropy, so
// a device enrolled a moment ago can ask a provider the record has not
// reached.
const certReplicationWait = 10 * time.Second

// fetchCertPatiently is dht.FetchCert, asked again with doubling pauses
// while the provider answers "not found", for certReplicationWait.
func fetchCertPatiently(ctx context.Context, h host.Host, prov, user peer.ID, device string) (*dht.OwnerCert, error) {
	deadline := time.Now().Add(certReplicationWait)
	pause := 100 * time.Millisecond
	for {
		cert, err := dht.FetchCert(ctx, h, prov, user, device, time.Now)
		if err == nil || !errors.Is(err, dht.ErrNotFound) || time.Now().Add(pause).After(deadline) {
			return cert, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(pause):
		}
		pause *= 2
	}
}
