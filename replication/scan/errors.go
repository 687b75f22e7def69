package scan

import (
	"errors"
	"fmt"
)

// Errors returned by the parser and the scanner, wrapped with detail and,
// for a signature file, the line number in a *ParseError.
var (
	// ErrFields: a line has too few or too many colon-separated fields.
	ErrFields = errors.New("scan: wrong number of fields")
	// ErrHash: a hash is not 32, 40 or 64 hex digits.
	ErrHash = errors.New("scan: bad hash")
	// ErrSize: a hash signature's size is neither `*` nor a decimal number.
	ErrSize = errors.New("scan: bad size")
	// ErrName: a signature name is empty or holds a control character.
	ErrName = errors.New("scan: bad signature name")
	// ErrTarget: an .ndb target type is not a decimal number.
	ErrTarget = errors.New("scan: bad target type")
	// ErrOffset: an .ndb offset is not `*`, `n` or `EOF-n` within bounds.
	ErrOffset = errors.New("scan: bad or unsupported offset")
	// ErrHex: a body signature's hex is malformed or uses a form this
	// scanner does not support.
	ErrHex = errors.New("scan: bad hex signature")
	// ErrAlt: an `(a|b)` alternative is malformed or its choices differ in
	// length.
	ErrAlt = errors.New("scan: bad alternative")
	// ErrTooLong: a line, a gap or a signature part exceeds its limit.
	ErrTooLong = errors.New("scan: too long")
	// ErrUnsupported: a valid ClamAV construct this scanner does not
	// implement: `!(aa|bb)`, `[x-y]`, `(B)`, `(L)`, alternatives of
	// unequal length or with wildcards, floating offsets `n,m`. ParseFile
	// skips such a line (and one with ErrNoAnchor) and counts it in
	// SigSet.Unsupported instead of refusing the file.
	ErrUnsupported = errors.New("scan: unsupported signature form")
	// ErrNoAnchor: a part of a body signature has not even 2 consecutive
	// literal bytes in its first fixed segment, which the matcher needs.
	ErrNoAnchor = errors.New("scan: no literal anchor (2 bytes in a row)")
	// ErrFormat: a file name is not .hdb, .hsb or .ndb.
	ErrFormat = errors.New("scan: unknown signature file type")
	// ErrSizeMismatch: a scanned stream's length differs from the size the
	// caller gave.
	ErrSizeMismatch = errors.New("scan: stream length differs from its size")
)

// A ParseError is a signature file error at a line (counted from 1).
type ParseError struct {
	Line int
	Err  error
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the wrapped error, so that errors.Is finds the sentinel.
func (e *ParseError) Unwrap() error { return e.Err }
