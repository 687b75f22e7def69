package docsync

import (
	"crypto/ed25519"
	"crypto/hpke"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// The HPKE suite that wraps epoch keys to members (docs/architecture.md,
// section 5).
var (
	hpkeKEM  = hpke.MLKEM768X25519()
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.ChaCha20Poly1305()
)

// EpochKey is a document key: an XChaCha20-Poly1305 key for one key epoch.
type EpochKey [KeySize]byte

// Identity is a clone's key material for documents: an Ed25519 signing key
// (its MemberID) and an HPKE key to which document keys are wrapped.
type Identity struct {
	Sign ed25519.PrivateKey
	KEM  hpke.PrivateKey
}

// NewIdentity generates a fresh identity, reading randomness for the Ed25519
// key from rand (the HPKE key always uses crypto/rand).
func NewIdentity(rand io.Reader) (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("docsync: ed25519 key: %w", err)
	}
	k, err := hpkeKEM.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("docsync: hpke key: %w", err)
	}
	return &Identity{Sign: priv, KEM: k}, nil
}

// IdentityFromKeys rebuilds a persisted identity from its Ed25519 key and
// the HPKE private key bytes returned by KEMPrivateBytes.
func IdentityFromKeys(sign ed25519.PrivateKey, kemPriv []byte) (*Identity, error) {
	if len(sign) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: ed25519 private key is %d bytes", ErrMalformed, len(sign))
	}
	k, err := hpkeKEM.NewPrivateKey(kemPriv)
	if err != nil {
		return nil, fmt.Errorf("%w: hpke private key: %v", ErrMalformed, err)
	}
	return &Identity{Sign: sign, KEM: k}, nil
}

// KEMPrivateBytes serializes the HPKE private key for persistence.
func (id *Identity) KEMPrivateBytes() ([]byte, error) { return id.KEM.Bytes() }

// ID returns the identity's MemberID.
func (id *Identity) ID() MemberID {
	var m MemberID
	copy(m[:], id.Sign.Public().(ed25519.PublicKey))
	return m
}

// HPKEPublic returns the serialized HPKE public key members wrap keys to.
func (id *Identity) HPKEPublic() []byte { return id.KEM.PublicKey().Bytes() }

// ParseHPKEPublic checks that b is a valid HPKE public key of our suite.
func ParseHPKEPublic(b []byte) error {
	if _, err := hpkeKEM.NewPublicKey(b); err != nil {
		return fmt.Errorf("%w: hpke public key: %v", ErrMalformed, err)
	}
	return nil
}

// wrapKey seals key to one member's HPKE public key.
func wrapKey(doc DocID, epoch uint64, member MemberID, pub []byte, key EpochKey) ([]byte, error) {
	pk, err := hpkeKEM.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: hpke public key of %v: %v", ErrMalformed, member, err)
	}
	return hpke.Seal(pk, hpkeKDF, hpkeAEAD, keyWrapInfo(doc, epoch, member), key[:])
}

// unwrapKey opens a key wrapped to us.
func unwrapKey(doc DocID, epoch uint64, id *Identity, ct []byte) (EpochKey, error) {
	var k EpochKey
	pt, err := hpke.Open(id.KEM, hpkeKDF, hpkeAEAD, keyWrapInfo(doc, epoch, id.ID()), ct)
	if err != nil || len(pt) != KeySize {
		return k, fmt.Errorf("%w: epoch %d key wrap", ErrDecrypt, epoch)
	}
	copy(k[:], pt)
	return k, nil
}

func sealAEAD(key EpochKey, nonce, aad, pt []byte) ([]byte, error) {
	a, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, err
	}
	return a.Seal(nil, nonce, pt, aad), nil
}

func openAEAD(key EpochKey, nonce, aad, ct []byte) ([]byte, error) {
	a, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, err
	}
	if len(nonce) != a.NonceSize() {
		return nil, fmt.Errorf("%w: nonce size", ErrDecrypt)
	}
	pt, err := a.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	return pt, nil
}

// SealEdit encrypts an encoded op for an edit envelope whose header fields
// (Doc, Author, Counter, Epoch) are already set, filling Nonce and Body.
func (e *Envelope) SealEdit(key EpochKey, rand io.Reader, op []byte) error {
	e.Kind = KindEdit
	e.Nonce = make([]byte, NonceSize)
	if _, err := io.ReadFull(rand, e.Nonce); err != nil {
		return fmt.Errorf("docsync: nonce: %w", err)
	}
	ct, err := sealAEAD(key, e.Nonce, editAAD(e.Doc, e.Author, e.Counter, e.Epoch), op)
	if err != nil {
		return err
	}
	e.Body = ct
	return nil
}

// OpenEdit decrypts an edit envelope's body with the epoch key.
func (e *Envelope) OpenEdit(key EpochKey) ([]byte, error) {
	if e.Kind != KindEdit {
		return nil, fmt.Errorf("%w: not an edit envelope", ErrMalformed)
	}
	return openAEAD(key, e.Nonce, editAAD(e.Doc, e.Author, e.Counter, e.Epoch), e.Body)
}
