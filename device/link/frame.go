package link

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/clone2clone/c2c/internal/bounded"
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

// MaxHelloFrame caps the first frame of a stream, the Hello, which is read
// before the device is authorized: a stranger gets no more than this.
const MaxHelloFrame = 4 << 10

// ReadMessage reads and decodes one frame of at most max bytes; it returns
// the bytes read. The body's buffer grows with the bytes that arrive, so a
// peer that announces max bytes and stalls costs only what it sent.
func ReadMessage(r *bufio.Reader, max int) (*Message, int, error) {
	size, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, 0, err
	}
	if size > uint64(max) {
		return nil, 0, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, size)
	}
	body, err := bounded.ReadFull(r, int(size))
	if err != nil {
		return nil, 0, err
	}
	m, err := Decode(body)
	return m, uvarintLen(size) + int(size), err
}

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}
