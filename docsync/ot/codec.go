package ot

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/clone2clone/c2c/internal/wirebytes"
)

// Binary encoding (version 1), all integers unsigned LEB128 varints in their
// shortest form:
//
//	version   = 0x01
//	count     = number of components
//	component = tag [text]
//	tag       = x<<2 | kind   (kind: 1 retain, 2 insert, 3 delete)
//
// For retain and delete x is the code point count; for insert x is the byte
// length of the UTF-8 text that follows. BaseLen and TargetLen are implied by
// the components. Only normalized ops are encodable, so every op has exactly
// one encoding and Decode(Encode(o)) == o.
const encodingVersion = 1

// Limits bounds what Decode accepts, so a small input cannot claim a huge
// document or make the decoder allocate much more than its own size.
type Limits struct {
	MaxComponents int // most components in one op
	MaxLen        int // largest BaseLen or TargetLen, in code points
}

// DefaultLimits returns the limits used by Decode: 1 Mi components and
// 64 Mi code points, far above any real edit batch.
func DefaultLimits() Limits {
	return Limits{MaxComponents: 1 << 20, MaxLen: 1 << 26}
}

// AppendBinary appends the encoding of o to b. o must be valid and
// normalized (ops built with the builder methods always are).
func (o Op) AppendBinary(b []byte) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return b, err
	}
	if !o.IsNormalized() {
		return b, ErrNotNormalized
	}
	b = append(b, encodingVersion)
	b = binary.AppendUvarint(b, uint64(len(o.Comps)))
	for _, c := range o.Comps {
		x := c.N
		if c.Kind == Insert {
			x = len(c.Text)
		}
		b = binary.AppendUvarint(b, uint64(x)<<2|uint64(c.Kind))
		if c.Kind == Insert {
			b = append(b, c.Text...)
		}
	}
	return b, nil
}

// MarshalBinary returns the encoding of o (see AppendBinary).
func (o Op) MarshalBinary() ([]byte, error) { return o.AppendBinary(nil) }

// UnmarshalBinary decodes b into o with DefaultLimits.
func (o *Op) UnmarshalBinary(b []byte) error {
	p, err := Decode(b)
	if err != nil {
		return err
	}
	*o = p
	return nil
}

// Decode parses an encoded op with DefaultLimits.
func Decode(b []byte) (Op, error) { return DecodeLimits(b, DefaultLimits()) }

// DecodeLimits parses an encoded op, rejecting anything malformed,
// non-canonical, invalid UTF-8, followed by trailing bytes, or beyond lim.
// A zero or negative field of lim means its default.
func DecodeLimits(b []byte, lim Limits) (Op, error) {
	def := DefaultLimits()
	if lim.MaxComponents <= 0 {
		lim.MaxComponents = def.MaxComponents
	}
	if lim.MaxLen <= 0 {
		lim.MaxLen = def.MaxLen
	}
	r := wirebytes.NewReader(b, ErrMalformed)
	if v := r.Byte(); r.Err() != nil || v != encodingVersion {
		return Op{}, fmt.Errorf("%w: missing or unknown version", ErrMalformed)
	}
	// Varints must be minimal, so that each op has exactly one encoding.
	count := r.MinimalUvarint()
	if err := r.Err(); err != nil {
		return Op{}, err
	}
	if count > uint64(lim.MaxComponents) {
		return Op{}, fmt.Errorf("%w: %d components, limit %d", ErrTooLarge, count, lim.MaxComponents)
	}
	// Every component takes at least one byte: never allocate beyond that.
	if count > uint64(r.Len()) {
		return Op{}, fmt.Errorf("%w: %d components in %d bytes", ErrMalformed, count, r.Len())
	}
	o := Op{Comps: make([]Component, 0, count)}
	var prev Kind
	for i := uint64(0); i < count; i++ {
		tag := r.MinimalUvarint()
		if err := r.Err(); err != nil {
			return Op{}, err
		}
		kind, x := Kind(tag&3), tag>>2
		if kind == 0 {
			return Op{}, fmt.Errorf("%w: component %d has kind 0", ErrMalformed, i)
		}
		if x == 0 {
			return Op{}, fmt.Errorf("%w: component %d is empty", ErrMalformed, i)
		}
		if kind == prev || (prev == Delete && kind == Insert) {
			return Op{}, fmt.Errorf("%w: %v follows %v", ErrNotNormalized, kind, prev)
		}
		prev = kind
		if x > uint64(lim.MaxLen) {
			return Op{}, fmt.Errorf("%w: component %d spans %d, limit %d", ErrTooLarge, i, x, lim.MaxLen)
		}
		c := Component{Kind: kind, N: int(x)}
		if kind == Insert {
			if x > uint64(r.Len()) {
				return Op{}, fmt.Errorf("%w: insert %d truncated", ErrMalformed, i)
			}
			text := r.Fixed(int(x))
			if !utf8.Valid(text) {
				return Op{}, fmt.Errorf("%w: insert %d", ErrInvalidUTF8, i)
			}
			c.Text = string(text)
			c.N = utf8.RuneCount(text)
		}
		switch kind {
		case Retain:
			o.BaseLen += c.N
			o.TargetLen += c.N
		case Insert:
			o.TargetLen += c.N
		case Delete:
			o.BaseLen += c.N
		}
		// Each term is <= MaxLen, so checking after every add cannot overflow.
		if o.BaseLen > lim.MaxLen || o.TargetLen > lim.MaxLen {
			return Op{}, fmt.Errorf("%w: op spans %d->%d, limit %d", ErrTooLarge, o.BaseLen, o.TargetLen, lim.MaxLen)
		}
		o.Comps = append(o.Comps, c)
	}
	if r.Len() != 0 {
		return Op{}, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, r.Len())
	}
	return o, nil
}
