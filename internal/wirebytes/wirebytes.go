// Package wirebytes writes and reads the building blocks of the binary
// codecs: unsigned varints, fixed-width big-endian integers and byte
// strings prefixed by their length (a uvarint or a 16-bit big-endian
// count).
//
// A Writer appends to one buffer and keeps the first error of a nested
// encoding. A Reader keeps the first error too, so a decoder reads all its
// fields and checks Err once. A Reader checks every announced length
// against the bytes actually present and never allocates from one: byte
// fields alias the input.
package wirebytes

import (
	"encoding"
	"encoding/binary"
	"fmt"
)

// Writer appends encoded fields to a buffer. The zero Writer is ready.
type Writer struct {
	buf []byte
	err error
}

// NewWriter returns a Writer that appends to b.
func NewWriter(b []byte) *Writer { return &Writer{buf: b} }

// Byte appends one byte.
func (w *Writer) Byte(x byte) { w.buf = append(w.buf, x) }

// Raw appends b as it is.
func (w *Writer) Raw(b []byte) { w.buf = append(w.buf, b...) }

// Uvarint appends x as an unsigned varint (always the shortest form).
func (w *Writer) Uvarint(x uint64) { w.buf = binary.AppendUvarint(w.buf, x) }

// Bytes appends b prefixed by its length as a uvarint.
func (w *Writer) Bytes(b []byte) {
	w.Uvarint(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

// String appends s prefixed by its length as a uvarint.
func (w *Writer) String(s string) {
	w.Uvarint(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

// U16 appends x as 2 big-endian bytes.
func (w *Writer) U16(x uint16) { w.buf = binary.BigEndian.AppendUint16(w.buf, x) }

// U64 appends x as 8 big-endian bytes.
func (w *Writer) U64(x uint64) { w.buf = binary.BigEndian.AppendUint64(w.buf, x) }

// Bytes16 appends b prefixed by its length as 2 big-endian bytes. The
// caller bounds len(b) to 65535; a longer b has its length cut to 16 bits.
func (w *Writer) Bytes16(b []byte) {
	w.U16(uint16(len(b)))
	w.buf = append(w.buf, b...)
}

// String16 is Bytes16 for a string.
func (w *Writer) String16(s string) {
	w.U16(uint16(len(s)))
	w.buf = append(w.buf, s...)
}

// Marshal appends m's encoding prefixed by its length as a uvarint. An
// error is kept (the first one) and nothing is appended.
func (w *Writer) Marshal(m encoding.BinaryMarshaler) {
	if w.err != nil {
		return
	}
	enc, err := m.MarshalBinary()
	if err != nil {
		w.err = err
		return
	}
	w.Bytes(enc)
}

// Append appends what f appends to the buffer, unprefixed (an
// encoding.BinaryAppender's AppendBinary). An error is kept (the first
// one) and the buffer is left as it was.
func (w *Writer) Append(f func([]byte) ([]byte, error)) {
	if w.err != nil {
		return
	}
	b, err := f(w.buf)
	if err != nil {
		w.err = err
		return
	}
	w.buf = b
}

// Len is the number of bytes written so far.
func (w *Writer) Len() int { return len(w.buf) }

// Err is the first error of a nested encoding, or nil.
func (w *Writer) Err() error { return w.err }

// Buf is the buffer written so far.
func (w *Writer) Buf() []byte { return w.buf }

// Result returns the buffer, or nil and the first error.
func (w *Writer) Result() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	return w.buf, nil
}

// Reader consumes an encoded message. The first error sticks: later reads
// return zero values (a zero-filled slice for Fixed) and change nothing.
type Reader struct {
	b    []byte
	base error
	err  error
}

// NewReader reads b; its errors wrap base (for example a package's
// ErrMalformed), so callers test them with errors.Is.
func NewReader(b []byte, base error) *Reader { return &Reader{b: b, base: base} }

// Err is the first error, or nil.
func (r *Reader) Err() error { return r.err }

// Fail records the error "base: what" unless an error is already kept.
func (r *Reader) Fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", r.base, what)
	}
}

// FailErr records err, wrapped as "base: err" unless it already is base,
// unless an error is already kept.
func (r *Reader) FailErr(err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %w", r.base, err)
	}
}

// Len is the number of bytes left.
func (r *Reader) Len() int { return len(r.b) }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.Fail("truncated")
		return 0
	}
	x := r.b[0]
	r.b = r.b[1:]
	return x
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 { return r.uvarint(false) }

// MinimalUvarint reads an unsigned varint that must be in its shortest
// form, so that a canonical encoding has exactly one byte representation.
func (r *Reader) MinimalUvarint() uint64 { return r.uvarint(true) }

func (r *Reader) uvarint(minimal bool) uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Fail("truncated or overlong varint")
		return 0
	}
	if minimal && n > 1 && r.b[n-1] == 0 {
		r.Fail("non-minimal varint")
		return 0
	}
	r.b = r.b[n:]
	return x
}

// take returns the next n bytes (n already checked by the caller's type).
func (r *Reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.Fail("truncated")
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// Fixed reads exactly n bytes, n being the caller's constant (never an
// announced length). After an error it returns n zero bytes, so that the
// caller may index the result without a check.
func (r *Reader) Fixed(n int) []byte {
	if s := r.take(uint64(max(n, 0))); r.err == nil {
		return s
	}
	return make([]byte, n)
}

// Bytes reads a byte string prefixed by its uvarint length. It aliases the
// input.
func (r *Reader) Bytes() []byte { return r.take(r.Uvarint()) }

// U16 reads 2 big-endian bytes.
func (r *Reader) U16() uint16 {
	s := r.take(2)
	if s == nil {
		return 0
	}
	return binary.BigEndian.Uint16(s)
}

// U64 reads 8 big-endian bytes.
func (r *Reader) U64() uint64 {
	s := r.take(8)
	if s == nil {
		return 0
	}
	return binary.BigEndian.Uint64(s)
}

// Bytes16 reads a byte string prefixed by its 16-bit big-endian length. It
// aliases the input.
func (r *Reader) Bytes16() []byte {
	n := r.U16()
	if r.err != nil {
		return nil
	}
	return r.take(uint64(n))
}

// Unmarshal reads a byte string prefixed by its uvarint length and decodes
// it into u; a decoding error is kept as "base: err".
func (r *Reader) Unmarshal(u encoding.BinaryUnmarshaler) {
	enc := r.Bytes()
	if r.err != nil {
		return
	}
	if err := u.UnmarshalBinary(enc); err != nil {
		r.FailErr(err)
	}
}

// UnmarshalRest decodes all the bytes left into u.
func (r *Reader) UnmarshalRest(u encoding.BinaryUnmarshaler) {
	if r.err != nil {
		return
	}
	rest := r.b
	r.b = nil
	if err := u.UnmarshalBinary(rest); err != nil {
		r.FailErr(err)
	}
}

// End fails with "trailing bytes" if any byte is left, and returns the
// first error.
func (r *Reader) End() error {
	if r.err == nil && len(r.b) != 0 {
		r.Fail(fmt.Sprintf("%d trailing bytes", len(r.b)))
	}
	return r.err
}
