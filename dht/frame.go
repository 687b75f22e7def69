package dht

import (
	"errors"
	"fmt"
	"io"

	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/clone2clone/c2c/internal/wirebytes"
)

// Wire messages of the replica protocols. Every stream message is a frame
// (internal/bounded: a uvarint length and that many bytes, capped by the
// reader), the format of every stream protocol here since 2.0.0 (1.0.0
// had a 4-byte big-endian length). The codecs are pure and fuzzed
// (FuzzWire).

const (
	// MaxKeySize caps a directory key on the wire.
	MaxKeySize = 256
	// maxFrame fits the largest message: a key and a record with prefixes.
	maxFrame = MaxKeySize + MaxRecordSize + 16
)

// writeFrame writes one length-prefixed frame.
func writeFrame(w io.Writer, b []byte) error {
	if len(b) > maxFrame {
		return fmt.Errorf("%w: frame of %d bytes", ErrTooLarge, len(b))
	}
	_, err := bounded.WriteFrame(w, b)
	return err
}

// readFrame reads one frame of at most max bytes. A short read is
// ErrMalformed; a clean EOF before the header is io.EOF.
func readFrame(r bounded.Reader, max int) ([]byte, error) {
	b, _, err := bounded.ReadFrame(r, max)
	switch {
	case err == nil:
		return b, nil
	case errors.Is(err, bounded.ErrTooLarge):
		return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, bounded.ErrShort), errors.Is(err, bounded.ErrBadLength):
		return nil, fmt.Errorf("%w: truncated frame: %v", ErrMalformed, err)
	}
	return nil, err // io.EOF before a frame, or the stream's own error
}

// encodePair encodes a (key, value) record as sent by gossip, sync and get.
func encodePair(key string, value []byte) ([]byte, error) {
	if len(key) > MaxKeySize {
		return nil, fmt.Errorf("%w: key of %d bytes", ErrTooLarge, len(key))
	}
	if len(value) > MaxRecordSize {
		return nil, fmt.Errorf("%w: value of %d bytes", ErrTooLarge, len(value))
	}
	var w wirebytes.Writer
	w.String16(key)
	w.Bytes16(value)
	return w.Buf(), nil
}

func decodePair(b []byte) (key string, value []byte, err error) {
	r := newReader(b)
	k := field(r)
	value = field(r)
	if err := r.End(); err != nil {
		return "", nil, err
	}
	if len(k) > MaxKeySize || len(value) > MaxRecordSize {
		return "", nil, fmt.Errorf("%w: pair of %d+%d bytes", ErrTooLarge, len(k), len(value))
	}
	return string(k), value, nil
}

// encodeSummary encodes one anti-entropy entry: key, seq, EOL, digest.
func encodeSummary(ks keyedSummary) ([]byte, error) {
	if len(ks.Key) > MaxKeySize {
		return nil, fmt.Errorf("%w: key of %d bytes", ErrTooLarge, len(ks.Key))
	}
	var w wirebytes.Writer
	w.String16(ks.Key)
	w.U64(ks.Seq)
	w.U64(uint64(ks.EOL))
	w.Raw(ks.Digest[:])
	return w.Buf(), nil
}

func decodeSummary(b []byte) (keyedSummary, error) {
	var ks keyedSummary
	r := newReader(b)
	ks.Key = string(field(r))
	ks.Seq = r.U64()
	ks.EOL = int64(r.U64())
	copy(ks.Digest[:], r.Fixed(len(ks.Digest)))
	if err := r.End(); err != nil {
		return ks, err
	}
	if len(ks.Key) > MaxKeySize {
		return ks, fmt.Errorf("%w: key of %d bytes", ErrTooLarge, len(ks.Key))
	}
	return ks, nil
}

// Get responses: a status byte, then the value when found.
const (
	getFound    byte = 1
	getNotFound byte = 2
)

func encodeGetResponse(value []byte) []byte {
	if value == nil {
		return []byte{getNotFound}
	}
	return append([]byte{getFound}, value...)
}

func decodeGetResponse(b []byte) ([]byte, error) {
	switch {
	case len(b) == 1 && b[0] == getNotFound:
		return nil, ErrNotFound
	case len(b) > 1 && b[0] == getFound:
		if len(b)-1 > MaxRecordSize {
			return nil, fmt.Errorf("%w: value of %d bytes", ErrTooLarge, len(b)-1)
		}
		return b[1:], nil
	}
	return nil, fmt.Errorf("%w: get response", ErrMalformed)
}
