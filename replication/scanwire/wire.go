package scanwire

import (
	"encoding/binary"
	"fmt"
)

// Protocol IDs.
const (
	// SigsProtocol: clone -> its provider; the answer is one frame, the
	// signed manifest.
	SigsProtocol = "/c2c/scan/sigs/1.0.0"
	// ScanProtocol: clone -> its provider; a query frame, then an answer
	// frame, or a send frame, the blob's raw bytes and then the answer.
	ScanProtocol = "/c2c/scan/1.0.0"
	// ReportProtocol: device -> its clone; progress frames, then the signed
	// report (or a refusal).
	ReportProtocol = "/c2c/mirror/scan/1.0.0"
)

// Frame tags.
const (
	tagQuery   = 'Q' // sum[32] uvarint size
	tagVerdict = 'V' // a signed verdict
	tagSend    = 'S' // send the blob's bytes now
	tagRefuse  = 'E' // code byte, message
	tagReport  = 'R' // a signed report
	tagStep    = 'P' // uvarint done, uvarint total
)

// Refusal codes.
const (
	codeRefused = 1
	codeBusy    = 2
)

const maxFrame = 4 << 10

// A query asks for the verdict on one blob.
type query struct {
	sum  [32]byte
	size uint64
}

func (q query) marshal() []byte {
	p := append([]byte{tagQuery}, q.sum[:]...)
	return binary.AppendUvarint(p, q.size)
}

func unmarshalQuery(p []byte) (query, error) {
	var q query
	if len(p) == 0 || p[0] != tagQuery {
		return q, fmt.Errorf("%w: not a query", ErrMalformed)
	}
	r := &reader{p: p[1:]}
	r.fixed(q.sum[:])
	q.size = r.uvarint()
	return q, r.end()
}

func refusal(code byte, msg string) []byte {
	return append([]byte{tagRefuse, code}, msg[:min(len(msg), 512)]...)
}

// refusalErr turns a refusal frame into an error wrapping ErrBusy or
// ErrRefused.
func refusalErr(p []byte) error {
	if len(p) < 2 {
		return fmt.Errorf("%w: empty refusal", ErrMalformed)
	}
	base := ErrRefused
	if p[1] == codeBusy {
		base = ErrBusy
	}
	return fmt.Errorf("%w: %q", base, p[2:])
}

func step(done, total int) []byte {
	p := binary.AppendUvarint([]byte{tagStep}, uint64(done))
	return binary.AppendUvarint(p, uint64(total))
}

func unmarshalStep(p []byte) (done, total uint64, err error) {
	r := &reader{p: p[1:]}
	done, total = r.uvarint(), r.uvarint()
	return done, total, r.end()
}
