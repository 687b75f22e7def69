package dht

import (
	"crypto/hpke"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Namespace is the DHT record namespace: every directory key is "/c2c/...".
const Namespace = "c2c"

const (
	certPrefix  = "/" + Namespace + "/cert/"
	indexPrefix = "/" + Namespace + "/index/"
	// MaxDeviceName caps a device name in bytes.
	MaxDeviceName = 64
)

// CertKey is the DHT key of the owner certificate for (user, device).
func CertKey(user peer.ID, device string) string {
	return certPrefix + user.String() + "/" + device
}

// IndexKey is the DHT key of a user's device index.
func IndexKey(user peer.ID) string { return indexPrefix + user.String() }

type recordKind int

const (
	kindCert recordKind = iota + 1
	kindIndex
)

// parsedKey is a directory key split into its parts.
type parsedKey struct {
	kind   recordKind
	user   peer.ID
	device string // kindCert only
}

// parseKey splits a directory key; anything that is not a canonical key is
// ErrMalformed.
func parseKey(key string) (parsedKey, error) {
	var pk parsedKey
	var rest string
	switch {
	case strings.HasPrefix(key, certPrefix):
		pk.kind, rest = kindCert, key[len(certPrefix):]
	case strings.HasPrefix(key, indexPrefix):
		pk.kind, rest = kindIndex, key[len(indexPrefix):]
	default:
		return pk, fmt.Errorf("%w: unknown key prefix", ErrMalformed)
	}
	userStr := rest
	if pk.kind == kindCert {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return pk, fmt.Errorf("%w: cert key without device", ErrMalformed)
		}
		userStr, pk.device = rest[:i], rest[i+1:]
		if err := checkDeviceName(pk.device); err != nil {
			return pk, err
		}
	}
	user, err := peer.Decode(userStr)
	if err != nil {
		return pk, fmt.Errorf("%w: key user: %v", ErrMalformed, err)
	}
	if _, err := userPublicKey(user); err != nil {
		return pk, err
	}
	pk.user = user
	// Reject aliases (e.g. a CIDv1 spelling of the same peer ID).
	canon := IndexKey(user)
	if pk.kind == kindCert {
		canon = CertKey(user, pk.device)
	}
	if canon != key {
		return pk, fmt.Errorf("%w: non-canonical key", ErrMalformed)
	}
	return pk, nil
}

// checkDeviceName enforces [a-z0-9._-]{1,64}.
func checkDeviceName(name string) error {
	if len(name) == 0 || len(name) > MaxDeviceName {
		return fmt.Errorf("%w: device name length %d", ErrMalformed, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: device name byte %q", ErrMalformed, c)
		}
	}
	return nil
}

// GenerateUserKey makes a fresh user key (Ed25519).
func GenerateUserKey() (crypto.PrivKey, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	return priv, err
}

// userPublicKey extracts the Ed25519 key embedded in a user (or device)
// peer ID; user IDs are self-certifying, so no other key type is accepted.
func userPublicKey(id peer.ID) (crypto.PubKey, error) {
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: peer ID %q does not embed a key: %v", ErrMalformed, id, err)
	}
	if pub.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: peer ID %s has key type %s, want Ed25519", ErrMalformed, id, pub.Type())
	}
	return pub, nil
}

// hpkeKEM is the clone's KEM: ML-KEM-768 + X25519 (X-Wing).
func hpkeKEM() hpke.KEM { return hpke.MLKEM768X25519() }

// GenerateHPKEKey makes a clone HPKE key pair (MLKEM768X25519), serialized.
// The clone keeps priv in its data dir; pub goes into its OwnerCert.
func GenerateHPKEKey() (priv []byte, pub []byte, err error) {
	k, err := hpkeKEM().GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	priv, err = k.Bytes()
	if err != nil {
		return nil, nil, err
	}
	return priv, k.PublicKey().Bytes(), nil
}

// ParseHPKEPublicKey decodes and validates a clone HPKE public key.
func ParseHPKEPublicKey(b []byte) (hpke.PublicKey, error) {
	pk, err := hpkeKEM().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: hpke public key: %v", ErrMalformed, err)
	}
	return pk, nil
}

// ParseHPKEPrivateKey decodes a clone HPKE private key made by GenerateHPKEKey.
func ParseHPKEPrivateKey(b []byte) (hpke.PrivateKey, error) {
	k, err := hpkeKEM().NewPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: hpke private key: %v", ErrMalformed, err)
	}
	return k, nil
}
