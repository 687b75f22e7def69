// Package bounded reads length-prefixed bodies without trusting the
// announced length: the buffer grows as bytes arrive, so a peer that
// announces a large frame and then stalls costs only what it actually sent.
//
// Every framed reader that takes a stranger's bytes (the device link, the
// CloneDoc streams, the directory's replica streams) reads its body through
// ReadFull after checking the announced length against its own cap.
package bounded

import (
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
