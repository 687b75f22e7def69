package scanwire

import (
	"encoding/binary"
	"fmt"

	"github.com/clone2clone/c2c/replication/scan"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A SignedVerdict is a provider's verdict on one blob under one database
// version, signed by the provider.
type SignedVerdict struct {
	SHA256    [32]byte
	Size      uint64
	Version   uint64
	Verdict   scan.Verdict
	Signature []byte
}

func (v *SignedVerdict) body() []byte {
	p := append([]byte(nil), verdictDomain...)
	p = append(p, v.SHA256[:]...)
	p = binary.AppendUvarint(p, v.Size)
	p = binary.AppendUvarint(p, v.Version)
	inf := byte(0)
	if v.Verdict.Infected {
		inf = 1
	}
	p = append(p, inf)
	p = appendString(p, v.Verdict.Name)
	return appendString(p, v.Verdict.By)
}

// Sign signs v with key.
func (v *SignedVerdict) Sign(key crypto.PrivKey) error {
	if len(v.Verdict.Name) > MaxNameBytes || len(v.Verdict.By) > MaxNameBytes {
		return fmt.Errorf("%w: verdict name too long", ErrMalformed)
	}
	sig, err := key.Sign(v.body())
	if err != nil {
		return err
	}
	v.Signature = sig
	return nil
}

// Verify checks v's signature against the provider's key.
func (v *SignedVerdict) Verify(provider peer.ID) error {
	return verify(provider, v.body(), v.Signature)
}

// Marshal returns v's wire bytes.
func (v *SignedVerdict) Marshal() []byte {
	return appendBytes(v.body()[len(verdictDomain):], v.Signature)
}

// UnmarshalVerdict decodes a signed verdict; Verify checks it.
func UnmarshalVerdict(p []byte) (*SignedVerdict, error) {
	if len(p) > MaxVerdictBytes {
		return nil, fmt.Errorf("%w: verdict of %d bytes, cap %d", ErrMalformed, len(p), MaxVerdictBytes)
	}
	r := &reader{p: p}
	v := &SignedVerdict{}
	r.fixed(v.SHA256[:])
	v.Size, v.Version = r.uvarint(), r.uvarint()
	switch r.byte() {
	case 0:
	case 1:
		v.Verdict.Infected = true
	default:
		if r.err == nil {
			return nil, fmt.Errorf("%w: infected flag", ErrMalformed)
		}
	}
	v.Verdict.Name = string(r.bytes(MaxNameBytes))
	v.Verdict.By = string(r.bytes(MaxNameBytes))
	v.Signature = append([]byte(nil), r.bytes(maxSigBytes)...)
	if err := r.end(); err != nil {
		return nil, err
	}
	return v, nil
}
