package cloneservice

import (
	"fmt"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/seqservice/netproto"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// IdentityFromKeys builds the clone's document identity from its libp2p
// identity key (Ed25519: its raw key signs envelopes, so MemberID is the
// clone's peer key) and its HPKE private key as node keeps it in the data
// dir (dht.GenerateHPKEKey's serialization; the same ML-KEM-768+X25519 KEM
// docsync wraps document keys with).
func IdentityFromKeys(key crypto.PrivKey, hpkePriv []byte) (*docsync.Identity, error) {
	sk, err := netproto.SigningKey(key)
	if err != nil {
		return nil, fmt.Errorf("cloneservice: identity: %w", err)
	}
	if _, err := dht.ParseHPKEPrivateKey(hpkePriv); err != nil {
		return nil, fmt.Errorf("cloneservice: identity: %w", err)
	}
	id, err := docsync.IdentityFromKeys(sk, hpkePriv)
	if err != nil {
		return nil, fmt.Errorf("cloneservice: identity: %w", err)
	}
	return id, nil
}
