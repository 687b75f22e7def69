package replication

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
)

// Format bytes: each encoded message starts with its own, so one kind never
// decodes as another.
const (
	formatBatch    = 0xB1
	formatOffer    = 0xC1
	formatTemplate = 0xD1
)

// reader decodes the canonical binary format: unsigned LEB128 varints that
// must be minimal, fixed 32-byte hashes, length-prefixed strings. The first
// error sticks and every later read returns zero values, so a decoder checks
// r.err once per loop iteration and at the end. It never allocates: byte
// fields alias the input.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) uvarint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	switch {
	case n == 0:
		r.fail(fmt.Errorf("%w: %s at byte %d", ErrTruncated, field, r.off))
		return 0
	case n < 0:
		r.fail(fmt.Errorf("%w: %s overflows 64 bits", ErrMalformed, field))
		return 0
	case n > 1 && r.b[r.off+n-1] == 0:
		r.fail(fmt.Errorf("%w: %s at byte %d", ErrNonCanonical, field, r.off))
		return 0
	}
	r.off += n
	return v
}

// count reads a count of items, each at least minSize bytes, capped at limit:
// a count the remaining bytes cannot hold fails before anything is allocated.
func (r *reader) count(field string, limit, minSize int) int {
	v := r.uvarint(field)
	if r.err != nil {
		return 0
	}
	if v > uint64(limit) {
		r.fail(fmt.Errorf("%w: %s %d, cap %d", ErrTooLarge, field, v, limit))
		return 0
	}
	if v*uint64(minSize) > uint64(r.left()) {
		r.fail(fmt.Errorf("%w: %s %d needs %d bytes, %d left", ErrTruncated, field, v, v*uint64(minSize), r.left()))
		return 0
	}
	return int(v)
}

func (r *reader) bytes(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.left() {
		r.fail(fmt.Errorf("%w: %s needs %d bytes, %d left", ErrTruncated, field, n, r.left()))
		return nil
	}
	b := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

func (r *reader) byte1(field string) byte {
	b := r.bytes(1, field)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) hash(field string) (h Hash) {
	copy(h[:], r.bytes(32, field))
	return h
}

func (r *reader) name(field string) string {
	n := r.uvarint(field)
	if r.err == nil && n > MaxNameBytes {
		r.fail(fmt.Errorf("%w: %s is %d bytes, cap %d", ErrTooLarge, field, n, MaxNameBytes))
	}
	s := string(r.bytes(int(n), field))
	if r.err == nil {
		if err := checkName(s); err != nil {
			r.fail(err)
		}
	}
	return s
}

func (r *reader) format(want byte, what string) {
	if f := r.byte1(what + " format"); r.err == nil && f != want {
		r.fail(fmt.Errorf("%w: format byte %#x, want %#x (%s)", ErrMalformed, f, want, what))
	}
}

// end checks that only the signature remains and returns it.
func (r *reader) sig(what string) []byte {
	s := r.bytes(ed25519.SignatureSize, what+" signature")
	if r.err == nil && r.left() != 0 {
		r.fail(fmt.Errorf("%w: %d trailing bytes after the %s", ErrMalformed, r.left(), what))
	}
	return s
}

// open starts decoding message p of kind what: its size cap, then its format byte.
func open(p []byte, limit int, format byte, what string) *reader {
	r := &reader{b: p}
	if len(p) > limit {
		r.fail(fmt.Errorf("%w: %s is %d bytes, cap %d", ErrTooLarge, what, len(p), limit))
		return r
	}
	r.format(format, what)
	return r
}

// writer helpers: the encoders build on append.
func putUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func putName(b []byte, s string) []byte { return append(putUvarint(b, uint64(len(s))), s...) }

func putManifest(b []byte, m Manifest) []byte {
	b = putUvarint(b, uint64(len(m)))
	for i := range m {
		b = append(b, m[i][:]...)
	}
	return b
}

func (r *reader) manifest(field string) Manifest {
	n := r.count(field, MaxManifest, 32)
	if r.err != nil {
		return nil
	}
	m := make(Manifest, n)
	for i := range m {
		m[i] = r.hash(field)
	}
	return m
}

func verifySig(pub ed25519.PublicKey, tag string, msg, sig []byte, what string) error {
	buf := make([]byte, 0, len(tag)+len(msg))
	buf = append(append(buf, tag...), msg...)
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, buf, sig) {
		return fmt.Errorf("%w: %s", ErrSignature, what)
	}
	return nil
}

func sign(priv ed25519.PrivateKey, tag string, msg []byte) []byte {
	buf := make([]byte, 0, len(tag)+len(msg))
	return ed25519.Sign(priv, append(append(buf, tag...), msg...))
}
