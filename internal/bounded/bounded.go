// Package bounded reads length-prefixed bodies without trusting the
// announced length: the buffer grows as bytes arrive, so a peer that
// announces a large frame and then stalls costs only what it actually sent.
//
// Every framed reader that takes a stranger's bytes (the device link, the
// CloneDoc streams, the directory's replica streams) reads its frames with
// ReadFrame: one format, a uvarint length and the body, the length checked
// against the reader's own cap before the body is read through ReadFull.
package bounded

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// startSize is the first allocation for a body; it doubles from there.
const startSize = 4 << 10

// ErrShort is returned when the stream ends before the announced length.
var ErrShort = errors.New("bounded: body shorter than announced")

// ReadFull reads exactly n bytes from r. Memory grows with the bytes
// received (at most twice of them), never with n alone. The caller checks n
// against its cap first.
func ReadFull(r io.Reader, n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("bounded: negative length %d", n)
	}
	buf := make([]byte, 0, min(n, startSize))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if len(buf) == n {
				break
			}
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: %d of %d bytes", ErrShort, len(buf), n)
			}
			return nil, err
		}
	}
	return buf, nil
}

// The stream protocols' one frame format (the device link, CloneDoc's
// streams, the directory's replica streams): a uvarint length, then that
// many bytes.

// Errors of ReadFrame.
var (
	// ErrTooLarge: the frame's length is over the reader's cap.
	ErrTooLarge = errors.New("bounded: frame over its cap")
	// ErrBadLength: the length prefix is not a uvarint (over 64 bits).
	ErrBadLength = errors.New("bounded: bad frame length")
)

// Reader is what ReadFrame reads from (a *bufio.Reader, a *bytes.Reader).
type Reader interface {
	io.Reader
	io.ByteReader
}

// WriteFrame writes body as one frame in one Write and returns the bytes
// written. Into a *bufio.Writer it writes the length and the body apart,
// without a buffer of its own: they leave together at the writer's flush
// (a sequencer writes each entry this way to every member's feed).
func WriteFrame(w io.Writer, body []byte) (int, error) {
	if bw, ok := w.(*bufio.Writer); ok {
		n := 0
		for v := uint64(len(body)); ; v >>= 7 {
			b := byte(v & 0x7f)
			if v >= 0x80 {
				b |= 0x80
			}
			if err := bw.WriteByte(b); err != nil {
				return n, err
			}
			n++
			if v < 0x80 {
				break
			}
		}
		m, err := bw.Write(body)
		return n + m, err
	}
	buf := make([]byte, 0, binary.MaxVarintLen64+len(body))
	buf = binary.AppendUvarint(buf, uint64(len(body)))
	return w.Write(append(buf, body...))
}

// ReadFrame reads one frame of at most limit bytes and returns its body
// and the bytes read. A clean end of stream before the length is io.EOF;
// a length cut short is io.ErrUnexpectedEOF, one over 64 bits
// ErrBadLength; a length over limit is ErrTooLarge, and nothing more is
// read; the body is read with ReadFull (ErrShort when the stream ends
// first). The reader's own errors come back as they are.
func ReadFrame(r Reader, limit int) ([]byte, int, error) {
	n, err := readUvarint(r)
	if err != nil {
		return nil, 0, err
	}
	if n > uint64(max(limit, 0)) {
		return nil, 0, fmt.Errorf("%w: %d bytes, cap %d", ErrTooLarge, n, limit)
	}
	b, err := ReadFull(r, int(n))
	if err != nil {
		return nil, 0, err
	}
	return b, uvarintLen(n) + int(n), nil
}

// readUvarint is binary.ReadUvarint with its overflow as ErrBadLength.
func readUvarint(r io.ByteReader) (uint64, error) {
	var x uint64
	for i, s := 0, uint(0); i < binary.MaxVarintLen64; i, s = i+1, s+7 {
		b, err := r.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, ErrBadLength
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
	}
	return 0, ErrBadLength
}

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}
