package netproto

import (
	"crypto/ed25519"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A clone's MemberID and a sequencer's signing key are the raw Ed25519 keys
// behind their libp2p peer IDs, so either can be derived from the other.

// MemberOf returns the MemberID of an Ed25519 peer ID.
func MemberOf(p peer.ID) (docsync.MemberID, error) {
	var m docsync.MemberID
	pub, err := p.ExtractPublicKey()
	if err != nil {
		return m, fmt.Errorf("%w: peer %s: %v", ErrMalformed, p, err)
	}
	if pub.Type() != crypto.Ed25519 {
		return m, fmt.Errorf("%w: peer %s has a %v key, want Ed25519", ErrMalformed, p, pub.Type())
	}
	raw, err := pub.Raw()
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return m, fmt.Errorf("%w: peer %s key", ErrMalformed, p)
	}
	copy(m[:], raw)
	return m, nil
}

// PeerOf returns the peer ID of an Ed25519 public key (a MemberID or a
// sequencer key).
func PeerOf(pub []byte) (peer.ID, error) {
	k, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: ed25519 key: %v", ErrMalformed, err)
	}
	return peer.IDFromPublicKey(k)
}

// SigningKey returns the Ed25519 private key behind a libp2p key.
func SigningKey(k crypto.PrivKey) (ed25519.PrivateKey, error) {
	if k == nil || k.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: need an Ed25519 libp2p key", ErrMalformed)
	}
	raw, err := k.Raw()
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: ed25519 private key", ErrMalformed)
	}
	return ed25519.PrivateKey(raw), nil
}
