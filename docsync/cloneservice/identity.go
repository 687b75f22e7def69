package cloneservice

import (
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// IdentityFromKeys builds the clone's document identity from its libp2p
// identity key (Ed25519: its raw key signs envelopes, so MemberID is the
// clone's peer key) and its HPKE private key as node keeps it in the data
// dir (the ML-KEM-768+X25519 KEM docsync wraps document keys with; the
// key is checked as it is parsed).
func IdentityFromKeys(key crypto.PrivKey, hpkePriv []byte) (*docsync.Identity, error) {
	sk, err := netproto.SigningKey(key)
	if err != nil {
		return nil, fmt.Errorf("cloneservice: identity: %w", err)
	}
	id, err := docsync.IdentityFromKeys(sk, hpkePriv)
	if err != nil {
		return nil, fmt.Errorf("cloneservice: identity: %w", err)
	}
	return id, nil
}
