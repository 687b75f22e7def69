package dht

import (
	"encoding/binary"
	"fmt"
)

// The record encoding is canonical by construction: fixed-width big-endian
// integers and byte strings prefixed by a 16-bit length, in a fixed field
// order, with no optional encodings. Decoding re-checks every rule, so a
// value decodes only if it is the unique encoding of its fields.

// MaxRecordSize caps an encoded record (and a record inside a frame).
const MaxRecordSize = 4096

type writer struct{ buf []byte }

func (w *writer) bytes(b []byte) {
	w.buf = binary.BigEndian.AppendUint16(w.buf, uint16(len(b)))
	w.buf = append(w.buf, b...)
}

func (w *writer) str(s string) { w.bytes([]byte(s)) }

func (w *writer) u16(v uint16) { w.buf = binary.BigEndian.AppendUint16(w.buf, v) }

func (w *writer) u64(v uint64) { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }

// reader consumes a record; the first error sticks and later reads are no-ops.
type reader struct {
	buf []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated %s", ErrMalformed, what)
	}
}

func (r *reader) u16(what string) uint16 {
	if r.err != nil || len(r.buf) < 2 {
		r.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint16(r.buf)
	r.buf = r.buf[2:]
	return v
}

func (r *reader) u64(what string) uint64 {
	if r.err != nil || len(r.buf) < 8 {
		r.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint64(r.buf)
	r.buf = r.buf[8:]
	return v
}

// bytes returns a copy so decoded records never alias the input buffer.
func (r *reader) bytes(what string) []byte {
	n := int(r.u16(what))
	if r.err != nil {
		return nil
	}
	if len(r.buf) < n {
		r.fail(what)
		return nil
	}
	out := append([]byte(nil), r.buf[:n]...)
	r.buf = r.buf[n:]
	return out
}

// expect consumes a length-prefixed string that must equal want.
func (r *reader) expect(want string) {
	got := r.bytes("domain")
	if r.err == nil && string(got) != want {
		r.err = fmt.Errorf("%w: domain %q, want %q", ErrMalformed, got, want)
	}
}

// end reports trailing bytes as malformed.
func (r *reader) end() error {
	if r.err == nil && len(r.buf) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.buf))
	}
	return r.err
}
