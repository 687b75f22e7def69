package docsync

import (
	"crypto/ed25519"
	"fmt"

	"github.com/clone2clone/c2c/docsync/wire"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// unmarshal decodes b into m after checking the size cap. proto.Unmarshal
// never panics on bad input; every decoder then validates field by field.
func unmarshal(b []byte, limit int, m proto.Message, what string) error {
	if len(b) > limit {
		return fmt.Errorf("%w: %s is %d bytes, cap %d", ErrTooLarge, what, len(b), limit)
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return nil
}

func copy32(dst *[32]byte, src []byte, field string) error {
	if len(src) != 32 {
		return fmt.Errorf("%w: %s is %d bytes, want 32", ErrMalformed, field, len(src))
	}
	copy(dst[:], src)
	return nil
}

func checkSig(sig []byte, field string) error {
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: %s is %d bytes, want %d", ErrMalformed, field, len(sig), ed25519.SignatureSize)
	}
	return nil
}

func (e *Envelope) toWire() *wire.Envelope {
	return &wire.Envelope{
		Doc: e.Doc[:], Author: e.Author[:], Counter: e.Counter, Parent: e.Parent,
		ParentHash: e.ParentHash[:], Epoch: e.Epoch, Kind: uint32(e.Kind),
		Nonce: e.Nonce, Body: e.Body, Sig: e.Sig,
	}
}

func envelopeFromWire(w *wire.Envelope) (*Envelope, error) {
	if w == nil {
		return nil, fmt.Errorf("%w: missing envelope", ErrMalformed)
	}
	e := &Envelope{Counter: w.Counter, Parent: w.Parent, Epoch: w.Epoch, Kind: Kind(w.Kind)}
	if err := copy32((*[32]byte)(&e.Doc), w.Doc, "envelope doc"); err != nil {
		return nil, err
	}
	if err := copy32((*[32]byte)(&e.Author), w.Author, "envelope author"); err != nil {
		return nil, err
	}
	if err := copy32((*[32]byte)(&e.ParentHash), w.ParentHash, "envelope parent hash"); err != nil {
		return nil, err
	}
	if err := checkSig(w.Sig, "envelope signature"); err != nil {
		return nil, err
	}
	switch e.Kind {
	case KindEdit:
		if len(w.Nonce) != NonceSize {
			return nil, fmt.Errorf("%w: edit nonce is %d bytes", ErrMalformed, len(w.Nonce))
		}
	case KindMember:
		if len(w.Nonce) != 0 {
			return nil, fmt.Errorf("%w: membership envelope has a nonce", ErrMalformed)
		}
	default:
		return nil, fmt.Errorf("%w: envelope kind %d", ErrMalformed, w.Kind)
	}
	if len(w.Body) > MaxBodyBytes {
		return nil, fmt.Errorf("%w: body is %d bytes", ErrTooLarge, len(w.Body))
	}
	if e.Counter == 0 {
		return nil, fmt.Errorf("%w: counter 0", ErrMalformed)
	}
	e.Nonce = append([]byte(nil), w.Nonce...)
	e.Body = append([]byte(nil), w.Body...)
	e.Sig = append([]byte(nil), w.Sig...)
	return e, nil
}

// Marshal encodes the envelope.
func (e *Envelope) Marshal() ([]byte, error) { return proto.Marshal(e.toWire()) }

// DecodeEnvelope decodes and validates an envelope (not its signature).
func DecodeEnvelope(b []byte) (*Envelope, error) {
	var w wire.Envelope
	if err := unmarshal(b, MaxEnvelopeBytes, &w, "envelope"); err != nil {
		return nil, err
	}
	return envelopeFromWire(&w)
}

func (h *Head) toWire() *wire.Head {
	return &wire.Head{Doc: h.Doc[:], Seq: h.Seq, ChainHash: h.ChainHash[:], SeqSig: h.Sig}
}

func headFields(doc, hash, sig []byte, seq uint64) (Head, error) {
	h := Head{Seq: seq}
	if err := copy32((*[32]byte)(&h.Doc), doc, "head doc"); err != nil {
		return h, err
	}
	if err := copy32((*[32]byte)(&h.ChainHash), hash, "chain hash"); err != nil {
		return h, err
	}
	if err := checkSig(sig, "sequencer signature"); err != nil {
		return h, err
	}
	if seq == 0 {
		return h, fmt.Errorf("%w: seq 0", ErrMalformed)
	}
	h.Sig = append([]byte(nil), sig...)
	return h, nil
}

func headFromWire(w *wire.Head) (Head, error) {
	if w == nil {
		return Head{}, fmt.Errorf("%w: missing head", ErrMalformed)
	}
	return headFields(w.Doc, w.ChainHash, w.SeqSig, w.Seq)
}

// Marshal encodes the head.
func (h *Head) Marshal() ([]byte, error) { return proto.Marshal(h.toWire()) }

// headRepeatField is the protobuf field of a head's gossip repeat number
// (MarshalRepeat). It is left out of the generated code on purpose:
// DecodeHead ignores it, as proto ignores any unknown field, so a repeat
// decodes to the very head it repeats.
const headRepeatField = 15

// MarshalRepeat encodes the head followed by repeat number n. gossipsub
// names a c2c message by the hash of its bytes and drops, as a duplicate,
// any message it has seen or delivered in the last two to three minutes
// (its seen-messages cache: a 120 s TTL, swept every minute), the
// publisher's own included: a head gossiped again unchanged goes nowhere
// in that time. A repeat numbered n is a message of its own, delivered to
// a member that missed the first.
func (h *Head) MarshalRepeat(n uint64) ([]byte, error) {
	b, err := h.Marshal()
	if err != nil {
		return nil, err
	}
	b = protowire.AppendTag(b, headRepeatField, protowire.VarintType)
	return protowire.AppendVarint(b, n), nil
}

// DecodeHead decodes and validates a head (not its signature).
func DecodeHead(b []byte) (Head, error) {
	var w wire.Head
	if err := unmarshal(b, 1024, &w, "head"); err != nil {
		return Head{}, err
	}
	return headFromWire(&w)
}

func (e *Entry) toWire() *wire.Entry {
	return &wire.Entry{Doc: e.Head.Doc[:], Seq: e.Head.Seq, ChainHash: e.Head.ChainHash[:],
		Envelope: e.Envelope.toWire(), SeqSig: e.Head.Sig}
}

// Marshal encodes the entry.
func (e *Entry) Marshal() ([]byte, error) { return proto.Marshal(e.toWire()) }

// DecodeEntry decodes and validates an entry (not its signatures).
func DecodeEntry(b []byte) (*Entry, error) {
	var w wire.Entry
	if err := unmarshal(b, MaxEntryBytes, &w, "entry"); err != nil {
		return nil, err
	}
	h, err := headFields(w.Doc, w.ChainHash, w.SeqSig, w.Seq)
	if err != nil {
		return nil, err
	}
	env, err := envelopeFromWire(w.Envelope)
	if err != nil {
		return nil, err
	}
	return &Entry{Head: h, Envelope: *env}, nil
}
