package syncwire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/clone2clone/c2c/internal/bounded"
)

// WriteFrame encodes m and writes it as one frame; it returns the bytes written.
func WriteFrame(w io.Writer, m *Message) (int, error) {
	body, err := Encode(m)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 0, binary.MaxVarintLen64+len(body))
	buf = append(binary.AppendUvarint(buf, uint64(len(body))), body...)
	return w.Write(buf)
}

// ReadFrame reads and decodes one frame of at most limit bytes (HelloFrame
// before the peer is authorized, MaxFrame after); it returns the bytes read.
// The body's buffer grows with the bytes that arrive, never with the
// announced length alone.
func ReadFrame(r *bufio.Reader, limit int) (*Message, int, error) {
	size, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, 0, err
	}
	if size == 0 || size > uint64(limit) {
		return nil, 0, fmt.Errorf("%w: frame of %d bytes, cap %d", ErrTooLarge, size, limit)
	}
	body, err := bounded.ReadFull(r, int(size))
	if err != nil {
		return nil, 0, err
	}
	m, err := Decode(body)
	n := len(binary.AppendUvarint(nil, size)) + int(size)
	return m, n, err
}
