package docsync

import (
	"bytes"
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
	// w is a message just unmarshaled, whose byte fields proto copied
	// out of the input: the envelope may keep them.
	e := &Envelope{}
	err := e.setFields(envelopeFields{doc: w.Doc, author: w.Author, parentHash: w.ParentHash,
		nonce: w.Nonce, body: w.Body, sig: w.Sig, counter: w.Counter, parent: w.Parent, epoch: w.Epoch, kind: w.Kind})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// envelopeFields are an envelope's wire fields, as proto (wire.Envelope)
// or parseEntry decoded them.
type envelopeFields struct {
	doc, author, parentHash, nonce, body, sig []byte
	counter, parent, epoch                    uint64
	kind                                      uint32
}

// setFields checks f and sets e from it. e's nonce, body and signature
// are f's slices: the caller hands them over.
func (e *Envelope) setFields(f envelopeFields) error {
	*e = Envelope{Counter: f.counter, Parent: f.parent, Epoch: f.epoch, Kind: Kind(f.kind)}
	if err := copy32((*[32]byte)(&e.Doc), f.doc, "envelope doc"); err != nil {
		return err
	}
	if err := copy32((*[32]byte)(&e.Author), f.author, "envelope author"); err != nil {
		return err
	}
	if err := copy32((*[32]byte)(&e.ParentHash), f.parentHash, "envelope parent hash"); err != nil {
		return err
	}
	if err := checkSig(f.sig, "envelope signature"); err != nil {
		return err
	}
	switch e.Kind {
	case KindEdit:
		if len(f.nonce) != NonceSize {
			return fmt.Errorf("%w: edit nonce is %d bytes", ErrMalformed, len(f.nonce))
		}
	case KindMember:
		if len(f.nonce) != 0 {
			return fmt.Errorf("%w: membership envelope has a nonce", ErrMalformed)
		}
	default:
		return fmt.Errorf("%w: envelope kind %d", ErrMalformed, f.kind)
	}
	if len(f.body) > MaxBodyBytes {
		return fmt.Errorf("%w: body is %d bytes", ErrTooLarge, len(f.body))
	}
	if e.Counter == 0 {
		return fmt.Errorf("%w: counter 0", ErrMalformed)
	}
	e.Nonce, e.Body, e.Sig = orNil(f.nonce), orNil(f.body), f.sig
	return nil
}

// orNil is b, or nil if it is empty (as the envelope always had it).
func orNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
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

// headFields checks a head's fields; its signature is sig itself, which
// the caller hands over.
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
	h.Sig = sig
	return h, nil
}

func headFromWire(w *wire.Head) (Head, error) {
	if w == nil {
		return Head{}, fmt.Errorf("%w: missing head", ErrMalformed)
	}
	return headFields(w.Doc, w.ChainHash, w.SeqSig, w.Seq) // proto copied them out of the input
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

// WireSize is the length of Marshal's encoding of e, without encoding it:
// proto's, which leaves out empty bytes and zero numbers. A received
// encoding of this length holds each of e's fields once and nothing else,
// so it may be stored as it came (see Fingerprint).
func (e *Entry) WireSize() int {
	return sizeBytes(1, 32) + sizeVarint(2, e.Head.Seq) + sizeBytes(3, 32) +
		protowire.SizeTag(4) + protowire.SizeBytes(e.Envelope.wireSize()) + sizeBytes(5, len(e.Head.Sig))
}

func (e *Envelope) wireSize() int {
	return sizeBytes(1, 32) + sizeBytes(2, 32) + sizeVarint(3, e.Counter) + sizeVarint(4, e.Parent) +
		sizeBytes(5, 32) + sizeVarint(6, e.Epoch) + sizeVarint(7, uint64(uint32(e.Kind))) +
		sizeBytes(8, len(e.Nonce)) + sizeBytes(9, len(e.Body)) + sizeBytes(10, len(e.Sig))
}

// sizeBytes is the size of a bytes field of n bytes (none if empty).
func sizeBytes(num protowire.Number, n int) int {
	if n == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

// sizeVarint is the size of a varint field (none if 0).
func sizeVarint(num protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

// Fingerprint is a digest of every field of e (its envelope's digest,
// then its head's fields and signature): two entries with the same
// fingerprint are the same entry. A clone that received an entry's bytes
// takes it then, and stores those bytes instead of encoding the entry
// again if the entry it persists still has it.
func (e *Entry) Fingerprint() Hash {
	d := e.Envelope.Digest()
	p := newSHA256()
	p.fixed(d[:])
	e.Head.writeSigning(p)
	p.varb(e.Head.Sig)
	return p.done()
}

// DecodeEntry decodes and validates an entry (not its signatures). It is
// taken for every entry a clone receives, so it does not go through proto:
// parseEntry reads the fields as proto.Unmarshal reads a wire.Entry
// (FuzzDecodeEntryMatchesProto holds the two to the same result), and the
// entry's nonce, body and signatures are slices of one copy of b.
func DecodeEntry(b []byte) (*Entry, error) { return decodeEntry(b, true) }

// DecodeEntryOwning is DecodeEntry for a b that becomes the entry's: its
// byte fields are slices of b, which nobody may change afterwards (a
// frame just read, kept only to be stored).
func DecodeEntryOwning(b []byte) (*Entry, error) { return decodeEntry(b, false) }

func decodeEntry(b []byte, copyB bool) (*Entry, error) {
	if len(b) > MaxEntryBytes {
		return nil, fmt.Errorf("%w: entry is %d bytes, cap %d", ErrTooLarge, len(b), MaxEntryBytes)
	}
	var f entryFields
	if copyB {
		b = bytes.Clone(b)
	}
	if err := f.parse(b); err != nil {
		return nil, fmt.Errorf("%w: entry: %v", ErrMalformed, err)
	}
	h, err := headFields(f.doc, f.chainHash, f.seqSig, f.seq)
	if err != nil {
		return nil, err
	}
	if !f.hasEnvelope {
		return nil, fmt.Errorf("%w: missing envelope", ErrMalformed)
	}
	e := &Entry{Head: h}
	if err := e.Envelope.setFields(f.envelope); err != nil {
		return nil, err
	}
	return e, nil
}

// entryFields are a wire.Entry's fields.
type entryFields struct {
	doc, chainHash, seqSig []byte
	seq                    uint64
	envelope               envelopeFields
	hasEnvelope            bool
}

// parse reads b as proto.Unmarshal reads a wire.Entry into an empty one:
// a field of a known number but another wire type is unknown, unknown
// fields are skipped, a field given twice takes its last value, and an
// envelope given twice is the two merged. Byte fields are slices of b,
// capped so that an append cannot reach the next field.
func (f *entryFields) parse(b []byte) error {
	return parseFields(b, func(num protowire.Number, typ protowire.Type, b []byte) int {
		switch {
		case num == 1 && typ == protowire.BytesType:
			return consumeBytesInto(&f.doc, b)
		case num == 2 && typ == protowire.VarintType:
			return consumeVarintInto(&f.seq, b)
		case num == 3 && typ == protowire.BytesType:
			return consumeBytesInto(&f.chainHash, b)
		case num == 4 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return n
			}
			f.hasEnvelope = true
			if err := f.envelope.parse(v); err != nil {
				return -1
			}
			return n
		case num == 5 && typ == protowire.BytesType:
			return consumeBytesInto(&f.seqSig, b)
		}
		return protowire.ConsumeFieldValue(num, typ, b)
	})
}

// parse reads b as proto.Unmarshal merges a wire.Envelope into f.
func (f *envelopeFields) parse(b []byte) error {
	return parseFields(b, func(num protowire.Number, typ protowire.Type, b []byte) int {
		if typ == protowire.BytesType {
			switch num {
			case 1:
				return consumeBytesInto(&f.doc, b)
			case 2:
				return consumeBytesInto(&f.author, b)
			case 5:
				return consumeBytesInto(&f.parentHash, b)
			case 8:
				return consumeBytesInto(&f.nonce, b)
			case 9:
				return consumeBytesInto(&f.body, b)
			case 10:
				return consumeBytesInto(&f.sig, b)
			}
		}
		if typ == protowire.VarintType {
			switch num {
			case 3:
				return consumeVarintInto(&f.counter, b)
			case 4:
				return consumeVarintInto(&f.parent, b)
			case 6:
				return consumeVarintInto(&f.epoch, b)
			case 7:
				var v uint64
				n := consumeVarintInto(&v, b)
				f.kind = uint32(v) // proto's uint32: the low 32 bits
				return n
			}
		}
		return protowire.ConsumeFieldValue(num, typ, b)
	})
}

// parseFields calls field for each field of b with the bytes after its
// tag; field returns how many of them the value took, or a negative
// protowire error code.
func parseFields(b []byte, field func(protowire.Number, protowire.Type, []byte) int) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if n = field(num, typ, b); n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

func consumeBytesInto(dst *[]byte, b []byte) int {
	v, n := protowire.ConsumeBytes(b)
	if n >= 0 {
		*dst = v[:len(v):len(v)]
	}
	return n
}

func consumeVarintInto(dst *uint64, b []byte) int {
	v, n := protowire.ConsumeVarint(b)
	if n >= 0 {
		*dst = v
	}
	return n
}
