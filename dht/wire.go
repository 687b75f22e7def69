package dht

import (
	"fmt"

	"github.com/clone2clone/c2c/internal/wirebytes"
)

// The record encoding is canonical by construction: fixed-width big-endian
// integers and byte strings prefixed by a 16-bit length, in a fixed field
// order, with no optional encodings (internal/wirebytes' U16, U64, Bytes16).
// Decoding re-checks every rule, so a value decodes only if it is the
// unique encoding of its fields.

// MaxRecordSize caps an encoded record (and a record inside a frame).
const MaxRecordSize = 4096

// newReader reads a record or a message: the first error sticks, and every
// error wraps ErrMalformed.
func newReader(b []byte) *wirebytes.Reader { return wirebytes.NewReader(b, ErrMalformed) }

// field reads a 16-bit-length-prefixed byte string and returns a copy, so
// that decoded records never alias the input buffer (nil when empty).
func field(r *wirebytes.Reader) []byte { return append([]byte(nil), r.Bytes16()...) }

// expect consumes a length-prefixed string that must equal want.
func expect(r *wirebytes.Reader, want string) {
	got := r.Bytes16()
	if r.Err() == nil && string(got) != want {
		r.FailErr(fmt.Errorf("domain %q, want %q", got, want))
	}
}
