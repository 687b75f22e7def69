package replication

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Hash is a SHA-256 digest. The zero Hash marks an empty Merkle leaf.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:4]) }

// IsZero reports whether h is the zero Hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// HashChunk returns a chunk's content address.
func HashChunk(b []byte) Hash { return sha256.Sum256(b) }

// DeviceID is a device's Ed25519 public key, the one its owner certificate authorizes.
type DeviceID [32]byte

func (d DeviceID) String() string { return hex.EncodeToString(d[:4]) }

// PublicKey returns d as an Ed25519 public key.
func (d DeviceID) PublicKey() ed25519.PublicKey { return ed25519.PublicKey(d[:]) }

// DeviceIDOf returns the DeviceID of an Ed25519 public key.
func DeviceIDOf(pub ed25519.PublicKey) (DeviceID, error) {
	var d DeviceID
	if len(pub) != ed25519.PublicKeySize {
		return d, fmt.Errorf("%w: public key is %d bytes", ErrParams, len(pub))
	}
	copy(d[:], pub)
	return d, nil
}

// Domain-separation tags: every signed or hashed structure starts with its
// own, so bytes of one can never pass as another.
const (
	tagBatch    = "c2c/replication/batch/v1\x00"
	tagChain    = "c2c/replication/chain/v1\x00"
	tagGenesis  = "c2c/replication/genesis/v1\x00"
	tagOffer    = "c2c/replication/offer/v1\x00"
	tagTemplate = "c2c/replication/template/v1\x00"
	tagState    = "c2c/replication/state/v1\x00"
	tagNode     = "c2c/replication/node/v1\x00"
	tagRoot     = "c2c/replication/root/v1\x00"
)

// GenesisChain is the chain hash before a device's first batch of an epoch.
func GenesisChain(dev DeviceID, epoch uint64) Hash {
	b := append([]byte(tagGenesis), dev[:]...)
	return sha256.Sum256(binary.BigEndian.AppendUint64(b, epoch))
}

// chainNext is chain_k = SHA-256(tag || chain_{k-1} || content_k), where
// content is a batch's encoding up to (not including) its chain hash.
func chainNext(prev Hash, content []byte) Hash {
	h := sha256.New()
	h.Write([]byte(tagChain))
	h.Write(prev[:])
	h.Write(content)
	var out Hash
	h.Sum(out[:0])
	return out
}

// StateHash combines the apps' roots into a device state hash. names must be
// the epoch's sorted app names and roots their roots, in that order.
func StateHash(names []string, roots []Hash) Hash {
	h := sha256.New()
	h.Write([]byte(tagState))
	var n [binary.MaxVarintLen64]byte
	for i, name := range names {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(name)))])
		h.Write([]byte(name))
		h.Write(roots[i][:])
	}
	var out Hash
	h.Sum(out[:0])
	return out
}
