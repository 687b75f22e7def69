package link

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// DefaultMaxFrame bounds one frame (a snapshot of a large document is the
// largest message).
const DefaultMaxFrame = 64 << 20

// WriteMessage encodes m and writes it as one frame; it returns the bytes
// written.
func WriteMessage(w io.Writer, m *Message) (int, error) {
	body, err := Encode(m)
	if err != nil {
		return 0, err
	}
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(body)))
	buf := make([]byte, 0, n+len(body))
	buf = append(append(buf, hdr[:n]...), body...)
	return w.Write(buf)
}

// ReadMessage reads and decodes one frame of at most max bytes; it returns
// the bytes read.
func ReadMessage(r *bufio.Reader, max int) (*Message, int, error) {
	size, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, 0, err
	}
	if size > uint64(max) {
		return nil, 0, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, 0, err
	}
	m, err := Decode(body)
	return m, uvarintLen(size) + int(size), err
}

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}
