package replication

import (
	"crypto/ed25519"
	"fmt"
)

// Batch encoding (format 0xB1), every integer an unsigned minimal varint:
//
//	0xB1 device[32] epoch number start span firstSeq nUser nNet
//	nUser x (app dt hdr (ref[32] | payload[hdr>>1]))   hdr = size<<1 | isRef
//	nNet  x (dNetSeq gap dt)
//	stateHash[32] chain[32] sig[64]
//
// Times are milliseconds: start absolute, End = start+span, and each input's
// time a delta from the previous one of its kind (the first from start).
// Positions are implicit: user inputs fill FirstSeq.. in order, and a
// network input comes after `gap` more user inputs than the one before it.
// NetSeqs are deltas too, the first one absolute. So a keystroke costs about
// three bytes beside its payload, and the per-batch header and trailer (about
// 180 bytes) amortize over the batch. The chain hash covers everything before
// it; the signature, over tagBatch, covers everything before it.

const minInputBytes = 3 // app, dt, hdr

// encodeContent encodes b up to (not including) the chain hash.
func (b *Batch) encodeContent() []byte {
	size := 1 + 32 + 7*10 + 32 + 32 + 64 + b.Len()*4 + b.PayloadBytes()
	for i := range b.User {
		if !b.User[i].Ref.IsZero() {
			size += 32 - b.User[i].Size
		}
	}
	p := make([]byte, 0, max(size, 256))
	p = append(p, formatBatch)
	p = append(p, b.Device[:]...)
	p = putUvarint(p, b.Epoch)
	p = putUvarint(p, b.Number)
	p = putUvarint(p, uint64(b.Start))
	p = putUvarint(p, uint64(b.End-b.Start))
	p = putUvarint(p, b.FirstSeq)
	p = putUvarint(p, uint64(len(b.User)))
	p = putUvarint(p, uint64(len(b.Net)))
	t := b.Start
	for i := range b.User {
		in := &b.User[i]
		p = putUvarint(p, uint64(in.App))
		p = putUvarint(p, uint64(in.Time-t))
		t = in.Time
		if in.Ref.IsZero() {
			p = putUvarint(p, uint64(len(in.Payload))<<1)
			p = append(p, in.Payload...)
		} else {
			p = putUvarint(p, uint64(in.Size)<<1|1)
			p = append(p, in.Ref[:]...)
		}
	}
	t, seq, after := b.Start, uint64(0), 0
	for i := range b.Net {
		n := &b.Net[i]
		p = putUvarint(p, n.NetSeq-seq)
		p = putUvarint(p, uint64(n.After-after))
		p = putUvarint(p, uint64(n.Time-t))
		seq, after, t = n.NetSeq, n.After, n.Time
	}
	return append(p, b.StateHash[:]...)
}

// seal sets Chain (extending prev), Sig and the encoding.
func (b *Batch) seal(priv ed25519.PrivateKey, prev Hash) {
	b.content = b.encodeContent()
	b.Chain = chainNext(prev, b.content)
	msg := append(b.content, b.Chain[:]...)
	b.Sig = sign(priv, tagBatch, msg)
	b.raw = append(msg, b.Sig...)
	b.content = b.raw[:len(b.content)]
}

// VerifySig checks the signature by the device key pub.
func (b *Batch) VerifySig(pub ed25519.PublicKey) error {
	return verifySig(pub, tagBatch, b.raw[:len(b.raw)-ed25519.SignatureSize], b.Sig,
		fmt.Sprintf("batch %d", b.Number))
}

// Extends reports whether b's chain hash extends prev.
func (b *Batch) Extends(prev Hash) bool { return chainNext(prev, b.content) == b.Chain }

// DecodeBatch decodes and validates a batch's structure (not its signature,
// chain or app indices: the Mirror checks those). Payloads alias p. Errors
// wrap ErrTooLarge, ErrTruncated, ErrNonCanonical or ErrMalformed.
func DecodeBatch(p []byte) (*Batch, error) {
	r := open(p, MaxBatchBytes, formatBatch, "batch")
	b := &Batch{raw: p}
	copy(b.Device[:], r.bytes(32, "device"))
	b.Epoch = r.uvarint("epoch")
	b.Number = r.uvarint("number")
	start, span := r.uvarint("start"), r.uvarint("span")
	b.FirstSeq = r.uvarint("first seq")
	nu := r.count("user inputs", MaxBatchInputs, minInputBytes)
	nn := r.count("network inputs", MaxBatchInputs, 3)
	if r.err != nil {
		return nil, r.err
	}
	switch {
	case b.Number == 0 || b.FirstSeq == 0:
		return nil, fmt.Errorf("%w: batch number or first seq 0", ErrMalformed)
	case span == 0 || start > 1<<62 || span > 1<<40:
		return nil, fmt.Errorf("%w: window start %d span %d", ErrMalformed, start, span)
	case nu+nn > MaxBatchInputs:
		return nil, fmt.Errorf("%w: %d inputs, cap %d", ErrTooLarge, nu+nn, MaxBatchInputs)
	case b.FirstSeq > 1<<62:
		return nil, fmt.Errorf("%w: first seq %d", ErrMalformed, b.FirstSeq)
	}
	b.Start, b.End = Time(start), Time(start+span)
	if err := decodeUser(r, b, nu); err != nil {
		return nil, err
	}
	if err := decodeNet(r, b, nn); err != nil {
		return nil, err
	}
	b.StateHash = r.hash("state hash")
	cut := r.off
	b.Chain = r.hash("chain hash")
	b.Sig = r.sig("batch")
	if r.err != nil {
		return nil, r.err
	}
	b.content = p[:cut]
	return b, nil
}

func decodeUser(r *reader, b *Batch, n int) error {
	b.User = make([]Input, n)
	t := b.Start
	for i := range b.User {
		in := &b.User[i]
		app, dt, hdr := r.uvarint("app"), r.uvarint("time delta"), r.uvarint("payload header")
		if r.err != nil {
			return r.err
		}
		if app >= MaxApps {
			return fmt.Errorf("%w: app index %d", ErrMalformed, app)
		}
		if dt >= uint64(b.End-t) {
			return fmt.Errorf("%w: user input %d at +%d ms, after the window", ErrMalformed, i, dt)
		}
		t += Time(dt)
		in.App, in.Time = uint32(app), t
		size := hdr >> 1
		if hdr&1 == 0 {
			if size > MaxInline {
				return fmt.Errorf("%w: inline payload %d bytes, cap %d", ErrTooLarge, size, MaxInline)
			}
			in.Payload = r.bytes(int(size), "payload")
		} else {
			if size == 0 || size > MaxChunkBytes {
				return fmt.Errorf("%w: referenced payload of %d bytes, cap %d", ErrTooLarge, size, MaxChunkBytes)
			}
			in.Ref, in.Size = r.hash("payload ref"), int(size)
			if r.err == nil && in.Ref.IsZero() {
				return fmt.Errorf("%w: zero payload ref", ErrMalformed)
			}
		}
	}
	return r.err
}

func decodeNet(r *reader, b *Batch, n int) error {
	b.Net = make([]NetUse, n)
	t, seq, after := b.Start, uint64(0), uint64(0)
	for i := range b.Net {
		ds, gap, dt := r.uvarint("net seq delta"), r.uvarint("gap"), r.uvarint("time delta")
		if r.err != nil {
			return r.err
		}
		switch {
		case ds == 0 || ds > 1<<62-seq:
			return fmt.Errorf("%w: network input %d: net seq delta %d", ErrMalformed, i, ds)
		case gap > uint64(len(b.User))-after:
			return fmt.Errorf("%w: network input %d after %d more user inputs than exist", ErrMalformed, i, gap)
		case dt >= uint64(b.End-t):
			return fmt.Errorf("%w: network input %d at +%d ms, after the window", ErrMalformed, i, dt)
		}
		seq, after, t = seq+ds, after+gap, t+Time(dt)
		b.Net[i] = NetUse{NetSeq: seq, After: int(after), Time: t}
	}
	return nil
}
