package scanwire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Errors of the codecs and the protocols.
var (
	// ErrMalformed: bytes that do not decode.
	ErrMalformed = errors.New("scanwire: malformed")
	// ErrSignature: a signature that does not verify under the key it must.
	ErrSignature = errors.New("scanwire: bad signature")
	// ErrStale: a manifest or verdict older than a version already seen.
	ErrStale = errors.New("scanwire: database version went back")
	// ErrRefused: the other side refused the request (the message says why).
	ErrRefused = errors.New("scanwire: refused")
	// ErrBusy: a budget is spent; retry later.
	ErrBusy = errors.New("scanwire: over budget, retry later")
)

// Limits of the codecs.
const (
	MaxManifestBytes = 64 << 10
	MaxManifestFiles = 256
	MaxNameBytes     = 255
	MaxVerdictBytes  = 2 << 10
	maxSigBytes      = 128 // an Ed25519 signature is 64
)

// Domain separators: nothing signed for one purpose verifies for another.
const (
	manifestDomain = "c2c/scan/manifest/1\x00"
	verdictDomain  = "c2c/scan/verdict/1\x00"
	reportDomain   = "c2c/scan/report/1\x00"
)

// A FileSum names one signature file of a database.
type FileSum struct {
	Name   string
	SHA256 [32]byte
	Size   uint64
}

// A Manifest says what a provider's signature database holds. Version 0
// is the built-in database (EICAR only, no file).
type Manifest struct {
	Version   uint64
	HashSigs  uint64
	BodySigs  uint64
	Files     []FileSum
	Signature []byte // by the provider's key over the rest
}

func appendString(p []byte, s string) []byte {
	p = binary.AppendUvarint(p, uint64(len(s)))
	return append(p, s...)
}

// reader reads the codecs' fields; the first failure sticks.
type reader struct {
	p   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.p)
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) {
		r.err = fmt.Errorf("%w: uvarint (bad or not minimal)", ErrMalformed)
		return 0
	}
	r.p = r.p[n:]
	return v
}

func (r *reader) bytes(limit int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(limit) || n > uint64(len(r.p)) {
		r.err = fmt.Errorf("%w: a field of %d bytes (cap %d, %d left)", ErrMalformed, n, limit, len(r.p))
		return nil
	}
	b := r.p[:n]
	r.p = r.p[n:]
	return b
}

func (r *reader) fixed(dst []byte) {
	if r.err != nil {
		return
	}
	if len(r.p) < len(dst) {
		r.err = fmt.Errorf("%w: short", ErrMalformed)
		return
	}
	copy(dst, r.p)
	r.p = r.p[len(dst):]
}

func (r *reader) byte() byte {
	var b [1]byte
	r.fixed(b[:])
	return b[0]
}

func (r *reader) end() error {
	if r.err == nil && len(r.p) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.p))
	}
	return r.err
}

func validName(s string) bool {
	if s == "" || len(s) > MaxNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func (m *Manifest) body() []byte {
	p := append([]byte(nil), manifestDomain...)
	p = binary.AppendUvarint(p, m.Version)
	p = binary.AppendUvarint(p, m.HashSigs)
	p = binary.AppendUvarint(p, m.BodySigs)
	p = binary.AppendUvarint(p, uint64(len(m.Files)))
	for _, f := range m.Files {
		p = appendString(p, f.Name)
		p = append(p, f.SHA256[:]...)
		p = binary.AppendUvarint(p, f.Size)
	}
	return p
}

// Sign signs m with key.
func (m *Manifest) Sign(key crypto.PrivKey) error {
	if len(m.Files) > MaxManifestFiles {
		return fmt.Errorf("%w: %d files, cap %d", ErrMalformed, len(m.Files), MaxManifestFiles)
	}
	for _, f := range m.Files {
		if !validName(f.Name) {
			return fmt.Errorf("%w: file name %q", ErrMalformed, f.Name)
		}
	}
	sig, err := key.Sign(m.body())
	if err != nil {
		return err
	}
	m.Signature = sig
	return nil
}

// Marshal returns m's wire bytes: the signed body, then the signature.
func (m *Manifest) Marshal() []byte {
	b := m.body()
	return appendBytes(b[len(manifestDomain):], m.Signature)
}

func appendBytes(p, b []byte) []byte {
	p = binary.AppendUvarint(p, uint64(len(b)))
	return append(p, b...)
}

// UnmarshalManifest decodes a manifest; it does not check the signature
// (Verify does).
func UnmarshalManifest(p []byte) (*Manifest, error) {
	if len(p) > MaxManifestBytes {
		return nil, fmt.Errorf("%w: manifest of %d bytes, cap %d", ErrMalformed, len(p), MaxManifestBytes)
	}
	r := &reader{p: p}
	m := &Manifest{Version: r.uvarint(), HashSigs: r.uvarint(), BodySigs: r.uvarint()}
	n := r.uvarint()
	if r.err == nil && n > MaxManifestFiles {
		return nil, fmt.Errorf("%w: %d files, cap %d", ErrMalformed, n, MaxManifestFiles)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		var f FileSum
		f.Name = string(r.bytes(MaxNameBytes))
		r.fixed(f.SHA256[:])
		f.Size = r.uvarint()
		if r.err == nil && !validName(f.Name) {
			return nil, fmt.Errorf("%w: file name %q", ErrMalformed, f.Name)
		}
		m.Files = append(m.Files, f)
	}
	m.Signature = append([]byte(nil), r.bytes(maxSigBytes)...)
	if err := r.end(); err != nil {
		return nil, err
	}
	return m, nil
}

// Verify checks m's signature against the provider's key.
func (m *Manifest) Verify(provider peer.ID) error {
	return verify(provider, m.body(), m.Signature)
}

func verify(signer peer.ID, body, sig []byte) error {
	pub, err := signer.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("%w: no public key in %s: %w", ErrSignature, signer, err)
	}
	ok, err := pub.Verify(body, sig)
	if err != nil || !ok {
		return fmt.Errorf("%w: not signed by %s", ErrSignature, signer)
	}
	return nil
}
