package docsync

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
)

// WaitClaim is a member's signed claim that its envelope Counter has had
// no entry although it was submitted, while the member's log stood at Seq.
// Members gossip it on the heads topic while they wait, so members that do
// not submit learn that the sequencer's head stopped while someone still
// submits. It is the member's word, not proof against the sequencer: a
// receiver times the wait on its own clock and counts only claims of
// current members for counters not committed yet.
type WaitClaim struct {
	Doc     DocID
	Member  MemberID
	Counter uint64 // the envelope still waiting for its entry
	Seq     uint64 // the claimant's log seq when it claimed
	At      uint64 // claimant's clock, Unix ms: makes each repeat a new message
	Sig     []byte
}

const (
	tagWaitClaim   = "c2c/docsync/waiting/v1\x00"
	waitClaimMagic = "c2c-waiting/1\n"
	// WaitClaimBytes is the fixed size of an encoded WaitClaim.
	WaitClaimBytes = len(waitClaimMagic) + 32 + 32 + 8 + 8 + 8 + ed25519.SignatureSize
)

// IsWaitClaim reports whether b starts like an encoded WaitClaim (it
// shares the heads topic with heads and evidence, which never start so).
func IsWaitClaim(b []byte) bool { return bytes.HasPrefix(b, []byte(waitClaimMagic)) }

// SigningBytes returns the canonical bytes the member signs.
func (w *WaitClaim) SigningBytes() []byte {
	return canon(make([]byte, 0, len(tagWaitClaim)+32+32+24)).fixed([]byte(tagWaitClaim)).
		fixed(w.Doc[:]).fixed(w.Member[:]).u64(w.Counter).u64(w.Seq).u64(w.At)
}

// Sign sets w.Member from priv and signs the claim.
func (w *WaitClaim) Sign(priv ed25519.PrivateKey) {
	copy(w.Member[:], priv.Public().(ed25519.PublicKey))
	w.Sig = ed25519.Sign(priv, w.SigningBytes())
}

// Verify checks the member's signature.
func (w *WaitClaim) Verify() error {
	if len(w.Sig) != ed25519.SignatureSize || !ed25519.Verify(w.Member.PublicKey(), w.SigningBytes(), w.Sig) {
		return fmt.Errorf("%w: wait claim of %v", ErrAuthorSignature, w.Member)
	}
	return nil
}

// Marshal encodes the claim in its fixed-size form.
func (w *WaitClaim) Marshal() ([]byte, error) {
	if len(w.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: wait claim signature is %d bytes", ErrMalformed, len(w.Sig))
	}
	b := make([]byte, 0, WaitClaimBytes)
	b = append(b, waitClaimMagic...)
	b = append(b, w.Doc[:]...)
	b = append(b, w.Member[:]...)
	b = binary.BigEndian.AppendUint64(b, w.Counter)
	b = binary.BigEndian.AppendUint64(b, w.Seq)
	b = binary.BigEndian.AppendUint64(b, w.At)
	return append(b, w.Sig...), nil
}

// DecodeWaitClaim decodes a claim (not its signature). Anything but
// exactly WaitClaimBytes with the magic is refused.
func DecodeWaitClaim(b []byte) (*WaitClaim, error) {
	if len(b) != WaitClaimBytes || !IsWaitClaim(b) {
		return nil, fmt.Errorf("%w: wait claim is %d bytes, want %d", ErrMalformed, len(b), WaitClaimBytes)
	}
	b = b[len(waitClaimMagic):]
	w := &WaitClaim{}
	copy(w.Doc[:], b[:32])
	copy(w.Member[:], b[32:64])
	w.Counter = binary.BigEndian.Uint64(b[64:72])
	w.Seq = binary.BigEndian.Uint64(b[72:80])
	w.At = binary.BigEndian.Uint64(b[80:88])
	w.Sig = bytes.Clone(b[88:])
	if w.Counter == 0 {
		return nil, fmt.Errorf("%w: wait claim for counter 0", ErrMalformed)
	}
	return w, nil
}
