package blobxfer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/clone2clone/c2c/internal/wirebytes"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/ipfs/go-cid"
)

// Protocol is the blob transfer protocol.
const Protocol = "/c2c/blob/1.0.0"

// Limits.
const (
	// MaxBlobBytes caps one blob (the files app's file cap).
	MaxBlobBytes = 64 << 20
	// MaxWant is the most CIDs one want frame names.
	MaxWant = 256
	// MaxCertBytes caps the owner certificate in a hello.
	MaxCertBytes = 4 << 10
	// MaxReasonBytes caps a done frame's reason.
	MaxReasonBytes = 512

	maxCIDBytes = 64
	helloFrame  = MaxCertBytes + 512
	wantFrame   = 8 + MaxWant*(maxCIDBytes+1)
	blockFrame  = 1 + boxostore.MaxBlockBytes
	doneFrame   = 8 + MaxReasonBytes
)

// Frame kinds: the first byte of every frame's body.
const (
	KindHello   byte = 'H' // opener: mode, the Ref, its owner certificate (empty for a device)
	KindWant    byte = 'W' // puller: the CIDs it lacks, in the order it wants them
	KindBlock   byte = 'B' // giver: one block, in the order of the wants
	KindMissing byte = 'N' // giver: it does not hold the block wanted at this place
	KindDone    byte = 'D' // either side: the end, with a code (0: complete and verified) and a reason
)

// Modes of a hello.
const (
	ModeGet byte = 'g' // the opener pulls
	ModePut byte = 'p' // the opener gives
)

// Codes of a done frame.
const (
	CodeOK          byte = iota // the DAG is complete and verified
	CodeRefused                 // not authorized
	CodeNotFound                // the giver lacks a block
	CodeCorrupt                 // a block did not verify, or the DAG breaks the Ref
	CodeTooLarge                // over a cap
	CodeMalformed               // a frame that does not decode, or out of order
	CodeUnavailable             // rate limited or failing: retry later
)

// Errors. A transfer's error wraps one of them; a done frame from the
// other side comes back as a *Refusal that wraps the sentinel of its code.
var (
	ErrRefused     = errors.New("blobxfer: refused")
	ErrNotFound    = errors.New("blobxfer: block not held by the giver")
	ErrCorrupt     = errors.New("blobxfer: block or DAG does not verify")
	ErrTooLarge    = errors.New("blobxfer: over a cap")
	ErrMalformed   = errors.New("blobxfer: malformed frame")
	ErrUnavailable = errors.New("blobxfer: unavailable")
)

var codeErr = map[byte]error{CodeRefused: ErrRefused, CodeNotFound: ErrNotFound, CodeCorrupt: ErrCorrupt,
	CodeTooLarge: ErrTooLarge, CodeMalformed: ErrMalformed, CodeUnavailable: ErrUnavailable}

func codeOf(err error) byte {
	for c, e := range codeErr {
		if errors.Is(err, e) {
			return c
		}
	}
	return CodeUnavailable
}

// Refusal is the other side's done frame with a non-zero code.
type Refusal struct {
	Code   byte
	Reason string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("blobxfer: peer ended (code %d): %s", r.Code, r.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) etc. hold.
func (r *Refusal) Unwrap() error {
	if e, ok := codeErr[r.Code]; ok {
		return e
	}
	return ErrMalformed
}

// Msg is one frame's body.
type Msg struct {
	Kind   byte
	Mode   byte          // hello
	Ref    boxostore.Ref // hello
	Cert   []byte        // hello: the opener clone's marshalled owner certificate; empty for a device
	Want   []cid.Cid     // want
	Block  []byte        // block
	Code   byte          // done
	Reason string        // done
}

// Append appends m's body: kind, then
//
//	hello:   mode, uvarint-prefixed Ref (boxostore.AppendRef), uvarint-prefixed certificate
//	want:    uvarint n, n uvarint-prefixed CIDs
//	block:   the block's bytes (the rest)
//	missing: nothing
//	done:    code, uvarint-prefixed reason
func (m *Msg) Append(p []byte) []byte {
	w := wirebytes.NewWriter(p)
	w.Byte(m.Kind)
	switch m.Kind {
	case KindHello:
		w.Byte(m.Mode)
		w.Bytes(boxostore.AppendRef(nil, m.Ref))
		w.Bytes(m.Cert)
	case KindWant:
		w.Uvarint(uint64(len(m.Want)))
		for _, c := range m.Want {
			w.Bytes(c.Bytes())
		}
	case KindBlock:
		w.Raw(m.Block)
	case KindDone:
		w.Byte(m.Code)
		w.String(m.Reason)
	}
	return w.Buf()
}

// Decode reads one frame's body. Block and Cert alias nothing of b.
func Decode(b []byte) (*Msg, error) {
	r := wirebytes.NewReader(b, ErrMalformed)
	m := &Msg{Kind: r.Byte()}
	switch m.Kind {
	case KindHello:
		m.Mode = r.Byte()
		rawRef := r.Bytes()
		cert := r.Bytes()
		if err := r.End(); err != nil {
			return nil, err
		}
		if m.Mode != ModeGet && m.Mode != ModePut {
			return nil, fmt.Errorf("%w: mode %#x", ErrMalformed, m.Mode)
		}
		ref, rest, err := boxostore.ReadRef(rawRef)
		if err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("%w: ref: %v", ErrMalformed, err)
		}
		if len(cert) > MaxCertBytes {
			return nil, fmt.Errorf("%w: certificate of %d bytes", ErrTooLarge, len(cert))
		}
		m.Ref, m.Cert = ref, append([]byte(nil), cert...)
		return m, nil
	case KindWant:
		n := r.Uvarint()
		if r.Err() == nil && (n == 0 || n > MaxWant) {
			return nil, fmt.Errorf("%w: want of %d CIDs, 1 to %d", ErrMalformed, n, MaxWant)
		}
		for i := uint64(0); i < n && r.Err() == nil; i++ {
			raw := r.Bytes()
			if r.Err() != nil {
				break
			}
			c, err := cid.Cast(raw)
			if err != nil || len(raw) > maxCIDBytes || string(c.Bytes()) != string(raw) {
				return nil, fmt.Errorf("%w: CID %d", ErrMalformed, i)
			}
			if _, err := boxostore.HashOf(c); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
			}
			m.Want = append(m.Want, c)
		}
		return m, r.End()
	case KindBlock:
		m.Block = append([]byte(nil), b[1:]...)
		return m, nil
	case KindMissing:
		return m, r.End()
	case KindDone:
		m.Code = r.Byte()
		m.Reason = string(r.Bytes())
		if err := r.End(); err != nil {
			return nil, err
		}
		if len(m.Reason) > MaxReasonBytes {
			return nil, fmt.Errorf("%w: reason of %d bytes", ErrTooLarge, len(m.Reason))
		}
		return m, nil
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: kind %#x", ErrMalformed, m.Kind)
}

// frameCap is the cap of a frame that may be of any of kinds.
func frameCap(kinds ...byte) int {
	n := 0
	for _, k := range kinds {
		switch k {
		case KindHello:
			n = max(n, helloFrame)
		case KindWant:
			n = max(n, wantFrame)
		case KindBlock:
			n = max(n, blockFrame)
		default:
			n = max(n, doneFrame)
		}
	}
	return n
}

// conn is one side of a stream: frames written and read, bytes counted.
type conn struct {
	r        bounded.Reader
	w        io.Writer
	sent     int
	received int
	refresh  func() // pushes the idle read deadline back before each read
	// refreshWrite pushes the write deadline back before each write: a
	// peer that asks for blocks and stops reading them blocks a write
	// once the stream's window is full, and must not hold the goroutine.
	refreshWrite func()
}

func (c *conn) write(m *Msg) error {
	if c.refreshWrite != nil {
		c.refreshWrite()
	}
	var n int
	var err error
	if m.Kind == KindBlock {
		// The same frame, written as a header and the block as it is: no
		// copy of a 256 KiB block per frame.
		hdr := append(binary.AppendUvarint(make([]byte, 0, 11), uint64(1+len(m.Block))), KindBlock)
		if n, err = c.w.Write(hdr); err == nil {
			var k int
			k, err = c.w.Write(m.Block)
			n += k
		}
	} else {
		n, err = bounded.WriteFrame(c.w, m.Append(nil))
	}
	c.sent += n
	if err != nil {
		return fmt.Errorf("%w: write: %w", ErrUnavailable, err)
	}
	return nil
}

// read reads one frame of one of kinds; a done frame with a non-zero code
// is returned as a *Refusal.
func (c *conn) read(kinds ...byte) (*Msg, error) {
	if c.refresh != nil {
		c.refresh()
	}
	b, n, err := bounded.ReadFrame(c.r, frameCap(append(kinds, KindDone)...))
	c.received += n
	switch {
	case errors.Is(err, bounded.ErrTooLarge):
		return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, bounded.ErrBadLength):
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	case err != nil:
		return nil, fmt.Errorf("%w: read: %w", ErrUnavailable, err)
	}
	m, err := Decode(b)
	if err != nil {
		return nil, err
	}
	if m.Kind == KindDone && m.Code != CodeOK {
		return nil, &Refusal{Code: m.Code, Reason: m.Reason}
	}
	for _, k := range append(kinds, KindDone) {
		if m.Kind == k {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: frame %q out of order", ErrMalformed, m.Kind)
}

// end writes a done frame for err (nil: OK).
func (c *conn) end(err error) error {
	m := &Msg{Kind: KindDone}
	if err != nil {
		m.Code, m.Reason = codeOf(err), err.Error()
		var ref *Refusal
		if errors.As(err, &ref) {
			m.Code = CodeUnavailable // the other side's own refusal: no need to echo it
		}
		if len(m.Reason) > MaxReasonBytes {
			m.Reason = m.Reason[:MaxReasonBytes]
		}
	}
	return c.write(m)
}
