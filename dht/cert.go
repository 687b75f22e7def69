package dht

import (
	"fmt"
	"time"

	"github.com/clone2clone/c2c/internal/wirebytes"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// certDomain separates owner-certificate signatures from every other
// signature made with a user key.
const certDomain = "c2c/dir/owner-cert/v1"

// MaxAddrs caps the address hints in an OwnerCert.
const MaxAddrs = 8

// OwnerCert binds user -> device -> clone. The user key signs it; the user
// ID is the peer ID of that key, so anyone can check it without a PKI.
type OwnerCert struct {
	User      peer.ID        // the user ID (peer ID of the user's Ed25519 key)
	Signer    peer.ID        // peer ID of the signing key; set by SignOwnerCert, must equal User
	Device    string         // device name, [a-z0-9._-], at most 64 bytes
	DeviceKey peer.ID        // peer ID of the device's own Ed25519 key
	Clone     peer.ID        // the clone's libp2p peer ID
	CloneHPKE []byte         // the clone's HPKE public key (MLKEM768X25519)
	Addrs     []ma.Multiaddr // optional address hint for the clone
	Seq       uint64         // higher supersedes lower
	EOL       time.Time      // end of life
	Sig       []byte         // Ed25519 signature over the canonical bytes
}

// SignOwnerCert sets User and Signer from userKey and signs c. The input is
// not modified.
func SignOwnerCert(userKey crypto.PrivKey, c OwnerCert) (*OwnerCert, error) {
	id, err := peer.IDFromPrivateKey(userKey)
	if err != nil {
		return nil, err
	}
	c.User = id
	return signCertAs(userKey, c)
}

// signCertAs signs c with key without touching User (tests use it to forge
// a record that names one user and is signed by another).
func signCertAs(key crypto.PrivKey, c OwnerCert) (*OwnerCert, error) {
	signer, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	c.Signer = signer
	c.EOL = c.EOL.UTC()
	c.Addrs = append([]ma.Multiaddr(nil), c.Addrs...)
	c.CloneHPKE = append([]byte(nil), c.CloneHPKE...)
	body, err := c.signedBytes()
	if err != nil {
		return nil, err
	}
	c.Sig, err = key.Sign(body)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// signedBytes is the domain-separated canonical encoding without the
// signature; it checks every field so nothing malformed is ever signed.
func (c *OwnerCert) signedBytes() ([]byte, error) {
	if err := c.checkFields(); err != nil {
		return nil, err
	}
	var w wirebytes.Writer
	w.String16(certDomain)
	w.Bytes16([]byte(c.User))
	w.Bytes16([]byte(c.Signer))
	w.String16(c.Device)
	w.Bytes16([]byte(c.DeviceKey))
	w.Bytes16([]byte(c.Clone))
	w.Bytes16(c.CloneHPKE)
	w.U16(uint16(len(c.Addrs)))
	for _, a := range c.Addrs {
		w.Bytes16(a.Bytes())
	}
	w.U64(c.Seq)
	w.U64(uint64(c.EOL.UnixNano()))
	return w.Buf(), nil
}

func (c *OwnerCert) checkFields() error {
	if _, err := userPublicKey(c.User); err != nil {
		return fmt.Errorf("user: %w", err)
	}
	if _, err := userPublicKey(c.Signer); err != nil {
		return fmt.Errorf("signer: %w", err)
	}
	if err := checkDeviceName(c.Device); err != nil {
		return err
	}
	if _, err := userPublicKey(c.DeviceKey); err != nil {
		return fmt.Errorf("device key: %w", err)
	}
	if err := c.Clone.Validate(); err != nil {
		return fmt.Errorf("%w: clone: %v", ErrMalformed, err)
	}
	if _, err := ParseHPKEPublicKey(c.CloneHPKE); err != nil {
		return err
	}
	if len(c.Addrs) > MaxAddrs {
		return fmt.Errorf("%w: %d addrs, max %d", ErrMalformed, len(c.Addrs), MaxAddrs)
	}
	for _, a := range c.Addrs {
		if a == nil || len(a.Bytes()) == 0 {
			return fmt.Errorf("%w: empty addr", ErrMalformed)
		}
	}
	return checkEOL(c.EOL)
}

// checkEOL requires an EOL that round-trips through UnixNano.
func checkEOL(eol time.Time) error {
	n := eol.UnixNano()
	if n <= 0 || !time.Unix(0, n).Equal(eol) {
		return fmt.Errorf("%w: end of life %v out of range", ErrMalformed, eol)
	}
	return nil
}

// Marshal returns the canonical wire bytes (the DHT value).
func (c *OwnerCert) Marshal() ([]byte, error) {
	body, err := c.signedBytes()
	if err != nil {
		return nil, err
	}
	w := wirebytes.NewWriter(body)
	w.Bytes16(c.Sig)
	if len(w.Buf()) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(w.Buf()))
	}
	return w.Buf(), nil
}

// UnmarshalOwnerCert decodes and checks the form of a certificate (not its
// signature or freshness: see Verify).
func UnmarshalOwnerCert(b []byte) (*OwnerCert, error) {
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	r := newReader(b)
	expect(r, certDomain)
	c := &OwnerCert{
		User:      peer.ID(field(r)),
		Signer:    peer.ID(field(r)),
		Device:    string(field(r)),
		DeviceKey: peer.ID(field(r)),
		Clone:     peer.ID(field(r)),
		CloneHPKE: field(r),
	}
	n := int(r.U16())
	if r.Err() == nil && n > MaxAddrs {
		return nil, fmt.Errorf("%w: %d addrs, max %d", ErrMalformed, n, MaxAddrs)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		raw := field(r)
		if r.Err() != nil {
			break
		}
		a, err := ma.NewMultiaddrBytes(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: addr: %v", ErrMalformed, err)
		}
		if string(a.Bytes()) != string(raw) {
			return nil, fmt.Errorf("%w: non-canonical addr", ErrMalformed)
		}
		c.Addrs = append(c.Addrs, a)
	}
	c.Seq = r.U64()
	c.EOL = time.Unix(0, int64(r.U64())).UTC()
	c.Sig = field(r)
	if err := r.End(); err != nil {
		return nil, err
	}
	if err := c.checkFields(); err != nil {
		return nil, err
	}
	return c, nil
}

// Key is the DHT key of this certificate.
func (c *OwnerCert) Key() string { return CertKey(c.User, c.Device) }

// Verify checks the signer, the signature and the end of life at now.
func (c *OwnerCert) Verify(now time.Time) error {
	body, err := c.signedBytes()
	if err != nil {
		return err
	}
	return verifySig(c.User, c.Signer, body, c.Sig, c.EOL, now)
}

// verifySig is shared by both record types.
func verifySig(user, signer peer.ID, body, sig []byte, eol, now time.Time) error {
	if signer != user {
		return fmt.Errorf("%w: user %s, signer %s", ErrWrongSigner, user, signer)
	}
	pub, err := userPublicKey(user)
	if err != nil {
		return err
	}
	if len(sig) == 0 {
		return fmt.Errorf("%w: missing", ErrBadSignature)
	}
	ok, err := pub.Verify(body, sig)
	if err != nil || !ok {
		return fmt.Errorf("%w: does not verify for %s", ErrBadSignature, user)
	}
	if !now.Before(eol) {
		return fmt.Errorf("%w: end of life %v, now %v", ErrExpired, eol, now)
	}
	return nil
}
