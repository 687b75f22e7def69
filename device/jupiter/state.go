package jupiter

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync/ot"
)

// State encoding (version 1), integers as unsigned varints, byte strings
// length-prefixed:
//
//	0x01 epoch version counter text base flags [inflight-counter inflight-base inflight-op] [buffer-op]
//
// flags bit 0: an edit is in flight; bit 1: a buffer exists.
const stateVersion = 1

// MaxStateBytes bounds a decoded state.
const MaxStateBytes = 256 << 20

// MarshalBinary encodes the client's whole state, so that a device can
// persist it and resume after a crash with its unsent edits.
func (c *Client) MarshalBinary() ([]byte, error) {
	b := []byte{stateVersion}
	b = binary.AppendUvarint(b, c.epoch)
	b = binary.AppendUvarint(b, c.version)
	b = binary.AppendUvarint(b, c.counter)
	b = appendBytes(b, []byte(c.text.String()))
	b = appendBytes(b, []byte(c.base.String()))
	var flags uint64
	if c.inflight != nil {
		flags |= 1
	}
	if c.buffer != nil {
		flags |= 2
	}
	b = binary.AppendUvarint(b, flags)
	var err error
	if c.inflight != nil {
		b = binary.AppendUvarint(b, c.inflight.Counter)
		b = binary.AppendUvarint(b, c.inflight.Base)
		if b, err = appendOp(b, c.inflight.Op); err != nil {
			return nil, err
		}
	}
	if c.buffer != nil {
		if b, err = appendOp(b, *c.buffer); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendOp appends a length-prefixed op encoding.
func appendOp(b []byte, op ot.Op) ([]byte, error) {
	enc, err := op.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return appendBytes(b, enc), nil
}

// UnmarshalClient decodes a state written by MarshalBinary.
func UnmarshalClient(b []byte) (*Client, error) {
	if len(b) > MaxStateBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrState, len(b))
	}
	r := reader{b: b}
	if v, ok := r.byte(); !ok || v != stateVersion {
		return nil, fmt.Errorf("%w: version", ErrState)
	}
	c := &Client{}
	c.epoch, c.version, c.counter = r.uvarint(), r.uvarint(), r.uvarint()
	text, base := r.bytes(), r.bytes()
	flags := r.uvarint()
	if r.err == nil && (!utf8.Valid(text) || !utf8.Valid(base) || flags > 3) {
		r.err = fmt.Errorf("%w: text or flags", ErrState)
	}
	c.text, c.base = ot.NewDoc(string(text)), ot.NewDoc(string(base))
	n := c.text.Len()
	if flags&1 != 0 {
		e := &Edit{Counter: r.uvarint(), Base: r.uvarint()}
		e.Op = r.op()
		if r.err == nil && (e.Counter == 0 || e.Counter > c.counter || e.Base > c.version) {
			r.err = fmt.Errorf("%w: in-flight edit", ErrState)
		}
		c.inflight = e
	}
	if flags&2 != 0 {
		op := r.op()
		c.buffer = &op
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: trailing bytes", ErrState)
	}
	if r.err != nil {
		return nil, r.err
	}
	// The text is the base after the pending edits.
	last := c.inflight
	first := c.buffer
	if last != nil {
		first = &last.Op
	}
	switch {
	case first == nil && c.base.Len() != n,
		first != nil && first.BaseLen != c.base.Len():
		return nil, fmt.Errorf("%w: pending edits do not start at the base", ErrState)
	case c.buffer != nil && c.buffer.TargetLen != n:
		return nil, fmt.Errorf("%w: buffer does not end at the text", ErrState)
	case c.buffer == nil && last != nil && last.Op.TargetLen != n:
		return nil, fmt.Errorf("%w: in-flight edit does not end at the text", ErrState)
	case c.buffer != nil && last != nil && last.Op.TargetLen != c.buffer.BaseLen:
		return nil, fmt.Errorf("%w: buffer does not follow the in-flight edit", ErrState)
	}
	// Lengths line up; the content must too.
	t := c.base.String()
	var pending []*ot.Op
	if c.inflight != nil {
		pending = append(pending, &c.inflight.Op)
	}
	if c.buffer != nil {
		pending = append(pending, c.buffer)
	}
	for _, op := range pending {
		var err error
		if t, err = ot.ApplyString(t, *op); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
	}
	if t != c.text.String() {
		return nil, fmt.Errorf("%w: base and pending edits do not give the text", ErrState)
	}
	return c, nil
}

// reader decodes varints and length-prefixed fields, keeping the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() (byte, bool) {
	if r.err != nil || len(r.b) == 0 {
		return 0, false
	}
	x := r.b[0]
	r.b = r.b[1:]
	return x, true
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad varint", ErrState)
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: truncated", ErrState)
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) op() ot.Op {
	enc := r.bytes()
	if r.err != nil {
		return ot.Op{}
	}
	op, err := ot.Decode(enc)
	if err != nil {
		r.err = fmt.Errorf("%w: %w", ErrState, err)
	}
	return op
}
