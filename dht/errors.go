package dht

import "errors"

// Sentinel errors. Callers test them with errors.Is; the package wraps them
// with context via %w.
var (
	// ErrBadSignature: the signature is missing or does not verify.
	ErrBadSignature = errors.New("dht: bad signature")
	// ErrWrongSigner: the record was signed by a key other than its user's.
	ErrWrongSigner = errors.New("dht: signed by another key than the record's user")
	// ErrKeyMismatch: the DHT key does not name the record's (user, device).
	ErrKeyMismatch = errors.New("dht: key does not match record")
	// ErrExpired: the record's end of life has passed.
	ErrExpired = errors.New("dht: record expired")
	// ErrTooLarge: the encoded record or frame exceeds its size cap.
	ErrTooLarge = errors.New("dht: record too large")
	// ErrMalformed: the bytes (or key) do not decode to a well-formed record.
	ErrMalformed = errors.New("dht: malformed record")
	// ErrStaleSeq: a record does not supersede the one already held.
	ErrStaleSeq = errors.New("dht: stale sequence number")
	// ErrNotFound: no valid record could be found.
	ErrNotFound = errors.New("dht: record not found")
	// ErrInvalidParams: Params or options fail validation.
	ErrInvalidParams = errors.New("dht: invalid params")
	// ErrNotVerified: a put could not be confirmed on any remote peer.
	ErrNotVerified = errors.New("dht: publish not verified by a get")
)
