package docsync

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
)

// DocID names a document (32 random bytes chosen by its creator).
type DocID [32]byte

// Hash is a SHA-256 digest.
type Hash [32]byte

// MemberID is a clone's Ed25519 public key.
type MemberID [32]byte

func (d DocID) String() string    { return hex.EncodeToString(d[:4]) }
func (h Hash) String() string     { return hex.EncodeToString(h[:4]) }
func (m MemberID) String() string { return hex.EncodeToString(m[:4]) }

// PublicKey returns m as an Ed25519 public key.
func (m MemberID) PublicKey() ed25519.PublicKey { return ed25519.PublicKey(m[:]) }

// MemberIDOf returns the MemberID of an Ed25519 public key.
func MemberIDOf(pub ed25519.PublicKey) (MemberID, error) {
	var m MemberID
	if len(pub) != ed25519.PublicKeySize {
		return m, fmt.Errorf("%w: public key is %d bytes", ErrMalformed, len(pub))
	}
	copy(m[:], pub)
	return m, nil
}

// Kind says what an envelope's body holds.
type Kind uint8

const (
	// KindEdit: the body is an ot.Op sealed under the epoch key.
	KindEdit Kind = 1
	// KindMember: the body is a plaintext, encoded membership operation.
	KindMember Kind = 2
)

// Role is a member's right on a document.
type Role uint8

const (
	RoleReader Role = 1
	RoleWriter Role = 2
	RoleAdmin  Role = 3
)

func (r Role) valid() bool { return r >= RoleReader && r <= RoleAdmin }

func (r Role) String() string {
	switch r {
	case RoleReader:
		return "reader"
	case RoleWriter:
		return "writer"
	case RoleAdmin:
		return "admin"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// Protocol size caps. They are part of the protocol (sequencer and clones must
// agree), so they are constants rather than tuning Params.
const (
	MaxBodyBytes     = 1 << 20            // envelope body
	MaxEnvelopeBytes = MaxBodyBytes + 512 // encoded envelope
	MaxEntryBytes    = MaxEnvelopeBytes + 256
	MaxMembers       = 256
	MaxMemberOpBytes = 1 << 20
	MaxSnapshotBytes = 64 << 20
	MaxParentLag     = 1 << 16 // an envelope's parent may trail the seq it gets by at most this
	NonceSize        = 24      // XChaCha20-Poly1305
	KeySize          = 32
)

// Envelope is an author's signed submission (docs/architecture.md, section 5).
type Envelope struct {
	Doc        DocID
	Author     MemberID
	Counter    uint64
	Parent     uint64
	ParentHash Hash
	Epoch      uint64
	Kind       Kind
	Nonce      []byte
	Body       []byte
	Sig        []byte

	// checked is the digest of the bytes whose author signature this
	// process made or verified (zero: none), so that an unchanged
	// envelope is not verified twice (VerifyAuthor).
	checked Hash
}

// Head is a sequencer attestation of the chain hash at a seq.
type Head struct {
	Doc       DocID
	Seq       uint64
	ChainHash Hash
	Sig       []byte
}

// Entry is an envelope the sequencer ordered at Head.Seq.
type Entry struct {
	Head     Head
	Envelope Envelope
}
