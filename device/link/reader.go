package link

import (
	"encoding/binary"
	"fmt"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/docsync/ot"
)

// reader decodes fields, keeping the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, what)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) fixed(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if len(r.b) < n {
		r.fail("truncated")
		return make([]byte, n)
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("truncated")
		return nil
	}
	return r.fixed(int(n))
}

func (r *reader) op() ot.Op {
	enc := r.bytes()
	if r.err != nil {
		return ot.Op{}
	}
	op, err := ot.Decode(enc)
	if err != nil {
		r.err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return op
}

// opRest decodes the rest of the message as one op.
func (r *reader) opRest() ot.Op {
	if r.err != nil {
		return ot.Op{}
	}
	op, err := ot.Decode(r.b)
	if err != nil {
		r.err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	r.b = nil
	return op
}

func (r *reader) edit() *jupiter.Edit {
	e := &jupiter.Edit{Counter: r.uvarint(), Base: r.uvarint()}
	e.Op = r.op()
	if r.err == nil && e.Counter == 0 {
		r.fail("edit counter 0")
	}
	return e
}
