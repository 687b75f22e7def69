package jupiter

import (
	"fmt"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/internal/wirebytes"
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
	w := wirebytes.NewWriter([]byte{stateVersion})
	w.Uvarint(c.epoch)
	w.Uvarint(c.version)
	w.Uvarint(c.counter)
	w.String(c.text.String())
	w.String(c.base.String())
	var flags uint64
	if c.inflight != nil {
		flags |= 1
	}
	if c.buffer != nil {
		flags |= 2
	}
	w.Uvarint(flags)
	if c.inflight != nil {
		AppendEdit(w, c.inflight)
	}
	if c.buffer != nil {
		w.Marshal(*c.buffer)
	}
	return w.Result()
}

// AppendEdit writes an edit as its counter, its base (uvarints) and its op
// (length-prefixed), the layout of both the state and the device link.
func AppendEdit(w *wirebytes.Writer, e *Edit) {
	w.Uvarint(e.Counter)
	w.Uvarint(e.Base)
	w.Marshal(e.Op)
}

// ReadEdit reads what AppendEdit writes.
func ReadEdit(r *wirebytes.Reader) *Edit {
	e := &Edit{Counter: r.Uvarint(), Base: r.Uvarint()}
	r.Unmarshal(&e.Op)
	return e
}

// UnmarshalClient decodes a state written by MarshalBinary.
func UnmarshalClient(b []byte) (*Client, error) {
	if len(b) > MaxStateBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrState, len(b))
	}
	r := wirebytes.NewReader(b, ErrState)
	if v := r.Byte(); r.Err() != nil || v != stateVersion {
		return nil, fmt.Errorf("%w: version", ErrState)
	}
	c := &Client{}
	c.epoch, c.version, c.counter = r.Uvarint(), r.Uvarint(), r.Uvarint()
	text, base := r.Bytes(), r.Bytes()
	flags := r.Uvarint()
	if r.Err() == nil && (!utf8.Valid(text) || !utf8.Valid(base) || flags > 3) {
		r.Fail("text or flags")
	}
	c.text, c.base = ot.NewDoc(string(text)), ot.NewDoc(string(base))
	n := c.text.Len()
	if flags&1 != 0 {
		e := ReadEdit(r)
		if r.Err() == nil && (e.Counter == 0 || e.Counter > c.counter || e.Base > c.version) {
			r.Fail("in-flight edit")
		}
		c.inflight = e
	}
	if flags&2 != 0 {
		var op ot.Op
		r.Unmarshal(&op)
		c.buffer = &op
	}
	if err := r.End(); err != nil {
		return nil, err
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
