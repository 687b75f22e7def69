package docsync

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Domain-separation tags. Each signed or hashed structure starts with its own
// tag so a signature over one can never be replayed as another.
const (
	tagEnvelope = "c2c/docsync/envelope/v1\x00"
	tagHead     = "c2c/docsync/head/v1\x00"
	tagChain    = "c2c/docsync/chain/v1\x00"
	tagEditAAD  = "c2c/docsync/edit/v1\x00"
	tagKeyWrap  = "c2c/docsync/keywrap/v1\x00"
	tagPrevKey  = "c2c/docsync/prevkey/v1\x00"
)

// canon builds canonical bytes: fixed-size fields verbatim, integers as
// big-endian uint64, variable fields prefixed by a big-endian uint32 length.
type canon []byte

func (c canon) fixed(b []byte) canon { return append(c, b...) }
func (c canon) u64(v uint64) canon   { return binary.BigEndian.AppendUint64(c, v) }
func (c canon) u8(v uint8) canon     { return append(c, v) }
func (c canon) varb(b []byte) canon {
	c = binary.BigEndian.AppendUint32(c, uint32(len(b)))
	return append(c, b...)
}

// SigningBytes returns the canonical bytes the author signs.
func (e *Envelope) SigningBytes() []byte {
	return canonBytes(len(tagEnvelope)+32+32+8+8+32+8+1+4+len(e.Nonce)+4+len(e.Body), e.writeSigning)
}

// canonBytes is what write writes, in a buffer of size bytes.
func canonBytes(size int, write func(canonWriter)) []byte {
	w := &canonBuf{make(canon, 0, size)}
	write(w)
	return w.c
}

var tagEnvelopeBytes = []byte(tagEnvelope)

// writeSigning writes the signing bytes' fields to w, in their order.
func (e *Envelope) writeSigning(w canonWriter) {
	w.fixed(tagEnvelopeBytes)
	w.fixed(e.Doc[:])
	w.fixed(e.Author[:])
	w.u64(e.Counter)
	w.u64(e.Parent)
	w.fixed(e.ParentHash[:])
	w.u64(e.Epoch)
	w.u8(uint8(e.Kind))
	w.varb(e.Nonce)
	w.varb(e.Body)
}

// Digest is H(envelope bytes) in the chain: SHA-256 over the signing bytes
// followed by the length-prefixed signature. It is taken several times per
// entry received, so it streams the fields into a pooled hash.
func (e *Envelope) Digest() Hash {
	p := newSHA256()
	e.writeSigning(p)
	p.varb(e.Sig)
	return p.done()
}

// Sign sets e.Sig with the author's key. The key must match e.Author.
func (e *Envelope) Sign(priv ed25519.PrivateKey) {
	e.Sig = ed25519.Sign(priv, e.SigningBytes())
	e.checked = Hash{}
	if pub, ok := priv.Public().(ed25519.PublicKey); ok && bytes.Equal(pub, e.Author[:]) {
		e.checked = e.Digest() // our own signature needs no check
	}
}

// VerifyAuthor checks the author signature. An envelope whose signature
// this process made or verified before, unchanged since (its digest says),
// is not verified again: the sequencer's submit validator and its Check
// of the same envelope, a clone's own envelope come back in an entry.
func (e *Envelope) VerifyAuthor() error { return e.VerifyAuthorIn(nil) }

// VerifyAuthorIn is VerifyAuthor with the signatures c remembers: an
// envelope another clone of this process verified is not verified again.
func (e *Envelope) VerifyAuthorIn(c *SigCache) error {
	d := e.Digest()
	if d == e.checked {
		return nil
	}
	// e.Author[:], not Author.PublicKey(): that slices a copy, which the
	// hash's interface call would move to the heap on every check.
	if !c.verifyStreamed(ed25519.PublicKey(e.Author[:]), e.Sig, func(p *pooledSHA256) { e.writeSigning(p) }, e.SigningBytes) {
		return fmt.Errorf("%w: author %v counter %d", ErrAuthorSignature, e.Author, e.Counter)
	}
	e.checked = d
	return nil
}

// SigningBytes returns the canonical bytes the sequencer signs.
func (h *Head) SigningBytes() []byte { return canonBytes(len(tagHead)+32+8+32, h.writeSigning) }

var tagHeadBytes = []byte(tagHead)

// writeSigning writes the signing bytes' fields to w, in their order.
func (h *Head) writeSigning(w canonWriter) {
	w.fixed(tagHeadBytes)
	w.fixed(h.Doc[:])
	w.u64(h.Seq)
	w.fixed(h.ChainHash[:])
}

// Sign sets h.Sig with the sequencer's key.
func (h *Head) Sign(priv ed25519.PrivateKey) { h.Sig = ed25519.Sign(priv, h.SigningBytes()) }

// Verify checks the sequencer signature.
func (h *Head) Verify(seqPub ed25519.PublicKey) error { return h.VerifyIn(nil, seqPub) }

// VerifyIn is Verify with the signatures c remembers.
func (h *Head) VerifyIn(c *SigCache, seqPub ed25519.PublicKey) error {
	if !c.verifyStreamed(seqPub, h.Sig, func(p *pooledSHA256) { h.writeSigning(p) }, h.SigningBytes) {
		return fmt.Errorf("%w: seq %d", ErrSequencerSignature, h.Seq)
	}
	return nil
}

// GenesisHash is h(0), the chain hash before the first entry.
func GenesisHash(doc DocID) Hash {
	return sha256.Sum256(canon(nil).fixed([]byte(tagChain)).fixed(doc[:]))
}

// ChainHash computes h(seq) = SHA-256(h(seq-1) || H(envelope)).
func ChainHash(prev Hash, envDigest Hash) Hash {
	var b [64]byte
	copy(b[:32], prev[:])
	copy(b[32:], envDigest[:])
	return sha256.Sum256(b[:])
}

// editAAD binds an edit's ciphertext to its document, author, counter and epoch.
func editAAD(doc DocID, author MemberID, counter, epoch uint64) []byte {
	// One buffer of the right size: it is taken for every edit opened.
	return canon(make([]byte, 0, len(tagEditAAD)+32+32+8+8)).
		fixed([]byte(tagEditAAD)).fixed(doc[:]).fixed(author[:]).u64(counter).u64(epoch)
}

// keyWrapInfo is the HPKE info for wrapping an epoch key to one member.
func keyWrapInfo(doc DocID, epoch uint64, member MemberID) []byte {
	return canon(nil).fixed([]byte(tagKeyWrap)).fixed(doc[:]).u64(epoch).fixed(member[:])
}

// prevKeyAAD binds the sealed previous-epoch key to its document and epoch.
func prevKeyAAD(doc DocID, epoch uint64) []byte {
	return canon(nil).fixed([]byte(tagPrevKey)).fixed(doc[:]).u64(epoch)
}
