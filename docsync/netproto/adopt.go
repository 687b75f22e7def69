package netproto

import (
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// AdoptProtocol moves a document to a sequencer: a member sends it an
// AdoptRequest, the sequencer fetches the history before the move from
// that member (HistoryProtocol), checks it end to end, and replies with
// the move's entry. See docsync's move.go for the two kinds of move.
const AdoptProtocol protocol.ID = "/c2c/doc/adopt/1.0.0"

// AdoptRequest is the one frame of an adopt stream: a takeover envelope
// for the sequencer to order at Parent+1, or the entry of a handover that
// the previous sequencer ordered.
type AdoptRequest struct {
	Takeover *docsync.Envelope // the admin's takeover, for this sequencer to order
	Handover *docsync.Entry    // the move entry the previous sequencer signed
}

// Adopt request tags (the first byte of the frame).
const (
	adoptTakeover byte = 'T'
	adoptHandover byte = 'H'
)

// MaxAdoptBytes caps an adopt request frame.
const MaxAdoptBytes = docsync.MaxEntryBytes + 1

// Doc returns the document the request moves.
func (a *AdoptRequest) Doc() docsync.DocID {
	if a.Takeover != nil {
		return a.Takeover.Doc
	}
	return a.Handover.Envelope.Doc
}

// Base returns the last seq of the history the sequencer must fetch: the
// head the takeover continues from, or the seq before the handover entry.
func (a *AdoptRequest) Base() uint64 {
	if a.Takeover != nil {
		return a.Takeover.Parent
	}
	return a.Handover.Head.Seq - 1
}

// Marshal encodes the request.
func (a *AdoptRequest) Marshal() ([]byte, error) {
	switch {
	case a.Takeover != nil && a.Handover == nil:
		b, err := a.Takeover.Marshal()
		return append([]byte{adoptTakeover}, b...), err
	case a.Handover != nil && a.Takeover == nil:
		b, err := a.Handover.Marshal()
		return append([]byte{adoptHandover}, b...), err
	}
	return nil, fmt.Errorf("%w: adopt request needs exactly one of takeover and handover", ErrMalformed)
}

// DecodeAdoptRequest decodes an adopt request and checks that it carries
// a move op of the right kind (not who signed it: the sequencer checks
// that against the history).
func DecodeAdoptRequest(b []byte) (*AdoptRequest, error) {
	if len(b) == 0 || len(b) > MaxAdoptBytes {
		return nil, fmt.Errorf("%w: adopt request of %d bytes", ErrMalformed, len(b))
	}
	var a AdoptRequest
	var env *docsync.Envelope
	switch b[0] {
	case adoptTakeover:
		e, err := docsync.DecodeEnvelope(b[1:])
		if err != nil {
			return nil, err
		}
		a.Takeover, env = e, e
	case adoptHandover:
		e, err := docsync.DecodeEntry(b[1:])
		if err != nil {
			return nil, err
		}
		if e.Head.Doc != e.Envelope.Doc || e.Head.Seq < 2 {
			return nil, fmt.Errorf("%w: handover entry", ErrMalformed)
		}
		a.Handover, env = e, &e.Envelope
	default:
		return nil, fmt.Errorf("%w: adopt request tag %d", ErrMalformed, b[0])
	}
	op, ok := docsync.MoveOf(env)
	if !ok || op.Takeover != (a.Takeover != nil) {
		return nil, fmt.Errorf("%w: adopt request without a matching move op", ErrMalformed)
	}
	return &a, nil
}
