package dht

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// FetchCert asks the provider p for the owner certificate of (user,
// device) on GetProtocol, the way a device finds its clone knowing only a
// provider's address (the C2C paper's "user lookup"): the answer is
// checked here against the record's own signature by the user key, so a
// provider can withhold the certificate but not forge one. h needs no DHT.
func FetchCert(ctx context.Context, h host.Host, p peer.ID, user peer.ID, device string, now func() time.Time) (*OwnerCert, error) {
	if err := checkDeviceName(device); err != nil {
		return nil, err
	}
	key := CertKey(user, device)
	raw, err := getRecord(ctx, h, newValidator(now), DefaultParams().RequestTimeout, p, key)
	if err != nil {
		return nil, fmt.Errorf("dht: fetch %s from %s: %w", key, p, err)
	}
	return UnmarshalOwnerCert(raw)
}
