package docsync

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// EvidenceKind says which misbehaviour an Evidence proves.
type EvidenceKind uint8

const (
	// EvidenceFork: two heads the sequencer signed for one (doc, seq) with
	// different chain hashes (A and B).
	EvidenceFork EvidenceKind = 1
	// EvidenceTamper: the sequencer signed head B, chained from head A
	// (B.Seq = A.Seq+1) over Envelope, and Envelope fails its author's
	// signature: the sequencer ordered an envelope no author signed.
	EvidenceTamper EvidenceKind = 2
	// EvidenceForgedSeq: the sequencer signed head B over Envelope chained
	// directly from head A, with B.Seq != A.Seq+1: it numbered an entry out
	// of its place in the chain.
	EvidenceForgedSeq EvidenceKind = 3
)

func (k EvidenceKind) String() string {
	switch k {
	case EvidenceFork:
		return "fork"
	case EvidenceTamper:
		return "tamper"
	case EvidenceForgedSeq:
		return "forged-seq"
	}
	return fmt.Sprintf("evidence(%d)", uint8(k))
}

// Evidence is transferable proof that a sequencer misbehaved: anyone holding
// it checks it with Verify and needs nothing else. It carries the
// sequencer's public key, so it says whom it implicates; a verifier that
// knows the document's sequencer key (its invitation) checks that it is
// that key (VerifyFor).
//
// A is a head the sequencer signed; for Tamper and ForgedSeq it may be the
// genesis (Seq 0, GenesisHash, no signature), which needs no signature
// since anyone computes it from the document ID.
type Evidence struct {
	Kind      EvidenceKind
	Sequencer ed25519.PublicKey
	A, B      Head
	Envelope  *Envelope // Tamper and ForgedSeq only
}

// ErrEvidence: an evidence file or message failed to decode, or does not
// prove what it claims.
var ErrEvidence = errors.New("docsync: invalid evidence")

// MaxEvidenceBytes caps an encoded Evidence.
const MaxEvidenceBytes = MaxEnvelopeBytes + 512

// evidenceMagic starts every encoded Evidence (and names its version).
const evidenceMagic = "c2c-evidence/1\n"

// EvidenceFromFork turns a fork proof into Evidence against seqPub.
func EvidenceFromFork(p *ForkProof, seqPub ed25519.PublicKey) *Evidence {
	return &Evidence{Kind: EvidenceFork, Sequencer: append(ed25519.PublicKey(nil), seqPub...), A: p.A, B: p.B}
}

// Doc is the document the evidence is about.
func (ev *Evidence) Doc() DocID { return ev.B.Doc }

// VerifyFor is Verify that also requires the evidence to implicate seqPub.
func (ev *Evidence) VerifyFor(seqPub ed25519.PublicKey) error {
	if !bytes.Equal(ev.Sequencer, seqPub) {
		return fmt.Errorf("%w: it implicates another sequencer key", ErrEvidence)
	}
	return ev.Verify()
}

// Verify checks that the evidence proves its Kind of misbehaviour by the
// holder of ev.Sequencer; it trusts nothing else.
func (ev *Evidence) Verify() error {
	if len(ev.Sequencer) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: sequencer key is %d bytes", ErrEvidence, len(ev.Sequencer))
	}
	if ev.A.Doc != ev.B.Doc {
		return fmt.Errorf("%w: heads name different documents", ErrEvidence)
	}
	if err := ev.B.Verify(ev.Sequencer); err != nil {
		return fmt.Errorf("%w: head B: %w", ErrEvidence, err)
	}
	if ev.Kind == EvidenceFork {
		if ev.Envelope != nil {
			return fmt.Errorf("%w: a fork carries no envelope", ErrEvidence)
		}
		p := ForkProof{A: ev.A, B: ev.B}
		if err := p.Verify(ev.Sequencer); err != nil {
			return fmt.Errorf("%w: %w", ErrEvidence, err)
		}
		return nil
	}
	if ev.Kind != EvidenceTamper && ev.Kind != EvidenceForgedSeq {
		return fmt.Errorf("%w: unknown kind %d", ErrEvidence, ev.Kind)
	}
	if ev.A.Seq == 0 {
		if ev.A.ChainHash != GenesisHash(ev.A.Doc) || len(ev.A.Sig) != 0 {
			return fmt.Errorf("%w: head A at seq 0 is not the genesis", ErrEvidence)
		}
	} else if err := ev.A.Verify(ev.Sequencer); err != nil {
		return fmt.Errorf("%w: head A: %w", ErrEvidence, err)
	}
	env := ev.Envelope
	if env == nil {
		return fmt.Errorf("%w: no envelope", ErrEvidence)
	}
	if env.Doc != ev.B.Doc {
		return fmt.Errorf("%w: envelope of another document", ErrEvidence)
	}
	if ChainHash(ev.A.ChainHash, env.Digest()) != ev.B.ChainHash {
		return fmt.Errorf("%w: head B is not chained from head A over this envelope", ErrEvidence)
	}
	switch ev.Kind {
	case EvidenceTamper:
		if ev.B.Seq != ev.A.Seq+1 {
			return fmt.Errorf("%w: heads are not consecutive", ErrEvidence)
		}
		if env.VerifyAuthor() == nil {
			return fmt.Errorf("%w: the envelope's author signature is valid", ErrEvidence)
		}
	case EvidenceForgedSeq:
		if ev.B.Seq == ev.A.Seq+1 {
			return fmt.Errorf("%w: the seq follows from head A", ErrEvidence)
		}
	}
	return nil
}

// Describe says in words exactly what the sequencer signed (for Verify'd
// evidence).
func (ev *Evidence) Describe() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "kind:      %s\n", ev.Kind)
	fmt.Fprintf(&b, "document:  %s\n", hex.EncodeToString(ev.B.Doc[:]))
	fmt.Fprintf(&b, "sequencer: ed25519 key %s\n", hex.EncodeToString(ev.Sequencer))
	head := func(name string, h Head) {
		if h.Seq == 0 {
			fmt.Fprintf(&b, "%s: the genesis hash %s (seq 0, computed from the document ID, not signed)\n", name, hex.EncodeToString(h.ChainHash[:]))
			return
		}
		fmt.Fprintf(&b, "%s: the sequencer signed (doc, seq %d, chain hash %s)\n", name, h.Seq, hex.EncodeToString(h.ChainHash[:]))
	}
	head("head A", ev.A)
	head("head B", ev.B)
	if env := ev.Envelope; env != nil {
		d := env.Digest()
		fmt.Fprintf(&b, "envelope:  author %s counter %d parent %d epoch %d, %d body bytes, digest %s\n",
			hex.EncodeToString(env.Author[:]), env.Counter, env.Parent, env.Epoch, len(env.Body), hex.EncodeToString(d[:]))
	}
	switch ev.Kind {
	case EvidenceFork:
		fmt.Fprintf(&b, "proves:    the sequencer signed two different chain hashes for seq %d: it showed members two different logs\n", ev.A.Seq)
	case EvidenceTamper:
		fmt.Fprintf(&b, "proves:    the sequencer ordered at seq %d (head B = H(head A || envelope digest)) an envelope whose author signature does not verify under the author key it names: an entry no author signed\n", ev.B.Seq)
	case EvidenceForgedSeq:
		fmt.Fprintf(&b, "proves:    the sequencer signed seq %d for an envelope it chained directly after seq %d: a seq out of its place in the chain\n", ev.B.Seq, ev.A.Seq)
	}
	return b.String()
}

// Marshal encodes the evidence canonically: the magic line, the kind, the
// sequencer key, heads A and B (doc, seq, chain hash, signature length and
// signature) and the envelope (uvarint length and its encoding; 0 for none).
func (ev *Evidence) Marshal() ([]byte, error) {
	if len(ev.Sequencer) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: sequencer key is %d bytes", ErrEvidence, len(ev.Sequencer))
	}
	out := append([]byte(evidenceMagic), uint8(ev.Kind))
	out = append(out, ev.Sequencer...)
	for _, h := range []*Head{&ev.A, &ev.B} {
		if len(h.Sig) > 255 {
			return nil, fmt.Errorf("%w: head signature is %d bytes", ErrEvidence, len(h.Sig))
		}
		out = append(out, h.Doc[:]...)
		out = binary.BigEndian.AppendUint64(out, h.Seq)
		out = append(out, h.ChainHash[:]...)
		out = append(out, uint8(len(h.Sig)))
		out = append(out, h.Sig...)
	}
	var env []byte
	if ev.Envelope != nil {
		var err error
		if env, err = ev.Envelope.Marshal(); err != nil {
			return nil, err
		}
	}
	out = binary.AppendUvarint(out, uint64(len(env)))
	return append(out, env...), nil
}

// DecodeEvidence decodes evidence (not its signatures: call Verify). Only
// the canonical encoding is accepted, so a copy with any byte changed either
// fails here or decodes to different evidence, which Verify refuses.
func DecodeEvidence(b []byte) (*Evidence, error) {
	if len(b) > MaxEvidenceBytes {
		return nil, fmt.Errorf("%w: %d bytes, cap %d", ErrEvidence, len(b), MaxEvidenceBytes)
	}
	r := evReader{b: b}
	if string(r.take(len(evidenceMagic))) != evidenceMagic {
		return nil, fmt.Errorf("%w: not a c2c evidence file", ErrEvidence)
	}
	ev := &Evidence{}
	if k := r.take(1); k != nil {
		ev.Kind = EvidenceKind(k[0])
	}
	ev.Sequencer = append(ed25519.PublicKey(nil), r.take(ed25519.PublicKeySize)...)
	for _, h := range []*Head{&ev.A, &ev.B} {
		copy(h.Doc[:], r.take(32))
		if s := r.take(8); s != nil {
			h.Seq = binary.BigEndian.Uint64(s)
		}
		copy(h.ChainHash[:], r.take(32))
		var n int
		if l := r.take(1); l != nil {
			n = int(l[0])
		}
		if n > 0 {
			h.Sig = append([]byte(nil), r.take(n)...)
		}
	}
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, fmt.Errorf("%w: envelope length %d past the end", ErrEvidence, n)
	}
	if n > 0 {
		if ev.Envelope, err = DecodeEnvelope(r.take(int(n))); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrEvidence, err)
		}
	}
	if r.short {
		return nil, fmt.Errorf("%w: truncated", ErrEvidence)
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrEvidence, len(b)-r.off)
	}
	again, err := ev.Marshal()
	if err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrEvidence)
	}
	return ev, nil
}

// evReader reads fixed fields; a short read sets short and returns nil.
type evReader struct {
	b     []byte
	off   int
	short bool
}

func (r *evReader) take(n int) []byte {
	if r.short || n > len(r.b)-r.off {
		r.short = true
		return nil
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out
}

func (r *evReader) uvarint() (uint64, error) {
	if r.short {
		return 0, fmt.Errorf("%w: truncated", ErrEvidence)
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad envelope length", ErrEvidence)
	}
	r.off += n
	return v, nil
}

// IsEvidence reports whether b starts like an encoded Evidence (it shares
// the heads topic with heads, which never start so).
func IsEvidence(b []byte) bool { return bytes.HasPrefix(b, []byte(evidenceMagic)) }
