package link

import (
	"bufio"
	"errors"
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
	return bounded.WriteFrame(w, body)
}

// MaxHelloFrame caps the first frame of a stream, the Hello, which is read
// before the device is authorized: a stranger gets no more than this.
const MaxHelloFrame = 4 << 10

// ReadMessage reads and decodes one frame of at most max bytes; it returns
// the bytes read. The body's buffer grows with the bytes that arrive, so a
// peer that announces max bytes and stalls costs only what it sent.
func ReadMessage(r *bufio.Reader, max int) (*Message, int, error) {
	body, n, err := bounded.ReadFrame(r, max)
	if errors.Is(err, bounded.ErrTooLarge) {
		return nil, 0, fmt.Errorf("%w: %w", ErrFrameTooLarge, err)
	}
	if err != nil {
		return nil, 0, err
	}
	m, err := Decode(body)
	return m, n, err
}
