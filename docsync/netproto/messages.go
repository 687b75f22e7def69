package netproto

import (
	"encoding/binary"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
)

// HistoryRequest asks for the entries From..To (inclusive) of Doc.
type HistoryRequest struct {
	Doc      docsync.DocID
	From, To uint64
}

const historyRequestSize = 32 + 8 + 8

// Marshal encodes the request: doc || from || to (big-endian).
func (r HistoryRequest) Marshal() []byte {
	b := make([]byte, 0, historyRequestSize)
	b = append(b, r.Doc[:]...)
	b = binary.BigEndian.AppendUint64(b, r.From)
	return binary.BigEndian.AppendUint64(b, r.To)
}

// DecodeHistoryRequest decodes and checks a request (1 <= From <= To).
func DecodeHistoryRequest(b []byte) (HistoryRequest, error) {
	var r HistoryRequest
	if len(b) != historyRequestSize {
		return r, fmt.Errorf("%w: history request is %d bytes", ErrMalformed, len(b))
	}
	copy(r.Doc[:], b[:32])
	r.From = binary.BigEndian.Uint64(b[32:40])
	r.To = binary.BigEndian.Uint64(b[40:48])
	if r.From == 0 || r.To < r.From {
		return r, fmt.Errorf("%w: history range %d..%d", ErrMalformed, r.From, r.To)
	}
	return r, nil
}
