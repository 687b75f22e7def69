package jupiter

import (
	"fmt"

	"github.com/clone2clone/c2c/docsync/ot"
)

// Client is the device side: its text, the server version it has applied,
// at most one edit in flight and a buffer of later local edits.
type Client struct {
	text     *ot.Doc
	base     *ot.Doc // the server's text at version: text without the pending edits
	epoch    uint64
	version  uint64
	counter  uint64 // last counter given to an edit
	inflight *Edit
	buffer   *ot.Op
	online   bool // Resume ran since the last Connect: edits may be sent
}

// NewClient starts a client with no history (it gets a snapshot on connect).
func NewClient() *Client { return &Client{text: ot.NewDoc(""), base: ot.NewDoc("")} }

// Text is the device's text.
func (c *Client) Text() string { return c.text.String() }

// Len is the length of Text in code points.
func (c *Client) Len() int { return c.text.Len() }

// Version is the last server version applied.
func (c *Client) Version() uint64 { return c.version }

// Epoch is the server history the version belongs to.
func (c *Client) Epoch() uint64 { return c.epoch }

// Inflight is the edit sent and not acknowledged yet, if any.
func (c *Client) Inflight() *Edit { return c.inflight }

// Buffered reports whether local edits wait for the in-flight one's ack.
func (c *Client) Buffered() bool { return c.buffer != nil }

// Counter is the last counter given to an edit.
func (c *Client) Counter() uint64 { return c.counter }

// Connect marks the client offline until Resume and returns its Hello: local
// edits made before the bundle arrives go to the buffer, so that the Hello
// stays true.
func (c *Client) Connect() Hello {
	c.online = false
	return c.Hello()
}

// Disconnect marks the client offline: local edits are buffered.
func (c *Client) Disconnect() { c.online = false }

// Online reports whether the client may send edits (Resume ran).
func (c *Client) Online() bool { return c.online }

// Hello says where the client stands, with its in-flight edit.
func (c *Client) Hello() Hello {
	h := Hello{Epoch: c.epoch, Version: c.version, Buffered: c.buffer != nil}
	if c.inflight != nil {
		e := *c.inflight
		e.Base = c.version
		h.Inflight = &e
	}
	return h
}

// Local applies a local edit at once. If the client is online with nothing
// in flight it returns the edit to send; otherwise the op joins the buffer
// and nil is returned.
func (c *Client) Local(op ot.Op) (*Edit, error) {
	if err := c.text.Apply(op); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOp, err)
	}
	if c.online && c.inflight == nil && c.buffer == nil {
		c.counter++
		c.inflight = &Edit{Counter: c.counter, Base: c.version, Op: op}
		return c.inflight, nil
	}
	if c.buffer == nil {
		b := op.Clone()
		c.buffer = &b
		return nil, nil
	}
	b, err := ot.Compose(*c.buffer, op)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOp, err)
	}
	c.buffer = &b
	return nil, nil
}

// Remote takes the next server op (not this client's own) and returns the
// op it applied to the text: op transformed past the in-flight edit and
// the buffer.
func (c *Client) Remote(op ot.Op) (ot.Op, error) {
	serverOp := op
	op, inflight, buffer, err := c.transform(op)
	if err != nil {
		return ot.Op{}, err
	}
	if err := c.base.Apply(serverOp); err != nil {
		return ot.Op{}, fmt.Errorf("%w: %w", ErrOp, err)
	}
	if err := c.text.Apply(op); err != nil {
		return ot.Op{}, fmt.Errorf("%w: %w", ErrOp, err)
	}
	if c.inflight != nil {
		c.inflight.Op = inflight
	}
	if c.buffer != nil {
		*c.buffer = buffer
	}
	c.version++
	return op, nil
}

// transform moves a server op past the in-flight edit and the buffer
// (the server's op goes first on ties, as on the server).
func (c *Client) transform(op ot.Op) (out, inflight, buffer ot.Op, err error) {
	out = op
	if c.inflight != nil {
		if out, inflight, err = ot.Transform(out, c.inflight.Op); err != nil {
			return out, inflight, buffer, fmt.Errorf("%w: %w", ErrOp, err)
		}
	}
	if c.buffer != nil {
		if out, buffer, err = ot.Transform(out, *c.buffer); err != nil {
			return out, inflight, buffer, fmt.Errorf("%w: %w", ErrOp, err)
		}
	}
	return out, inflight, buffer, nil
}

// Ack takes the server's acknowledgement of the in-flight edit. It returns
// the next edit to send (the buffer), if any.
func (c *Client) Ack(counter uint64) (*Edit, error) {
	if !c.online || c.inflight == nil || c.inflight.Counter != counter {
		return nil, fmt.Errorf("%w: ack of %d", ErrProtocol, counter)
	}
	if err := c.base.Apply(c.inflight.Op); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOp, err)
	}
	c.version++
	c.inflight = nil
	return c.flush(), nil
}

// flush moves the buffer in flight.
func (c *Client) flush() *Edit {
	if c.buffer == nil {
		return nil
	}
	c.counter++
	c.inflight = &Edit{Counter: c.counter, Base: c.version, Op: *c.buffer}
	c.buffer = nil
	return c.inflight
}

// Resume applies a bundle answering Hello() and returns the edit to (re)send:
// the in-flight edit, rebased, if the server has not applied it, or the
// buffer if it has.
func (c *Client) Resume(b Bundle) (*Edit, error) {
	e, _, err := c.ResumeApplied(b)
	return e, err
}

// ResumeApplied is Resume that also returns the op it applied to the
// text (the bundle transformed past the pending edits), for whoever keeps
// positions in the text (carets, undo histories).
func (c *Client) ResumeApplied(b Bundle) (*Edit, ot.Op, error) {
	if c.online {
		return nil, ot.Op{}, fmt.Errorf("%w: bundle while online", ErrProtocol)
	}
	saved := c.copy()
	e, applied, err := c.resume(b)
	if err != nil {
		*c = *saved // a bad bundle changes nothing
		return nil, ot.Op{}, err
	}
	c.online = true
	return e, applied, nil
}

func (c *Client) resume(b Bundle) (*Edit, ot.Op, error) {
	if b.Snapshot == nil && (b.Epoch != c.epoch || b.From != c.version) {
		return nil, ot.Op{}, fmt.Errorf("%w: bundle from %x/%d, client at %x/%d", ErrProtocol, b.Epoch, b.From, c.epoch, c.version)
	}
	if c.inflight != nil && b.Snapshot != nil && b.Unapplied {
		// Not applied: it becomes the head of the buffer, rebased below
		// and sent again.
		pending := c.inflight.Op
		if c.buffer != nil {
			var err error
			if pending, err = ot.Compose(pending, *c.buffer); err != nil {
				return nil, ot.Op{}, fmt.Errorf("%w: %w", ErrOp, err)
			}
		}
		c.buffer, c.inflight = &pending, nil
	}
	// The bundle acknowledges the in-flight edit.
	if c.inflight != nil {
		if err := c.base.Apply(c.inflight.Op); err != nil {
			return nil, ot.Op{}, fmt.Errorf("%w: %w", ErrOp, err)
		}
		c.inflight = nil
	}
	op := b.Op
	if b.Snapshot != nil {
		// Buffered edits (made after the Hello, or against an unknown
		// history) are rebased through the diff to the snapshot.
		op = Diff(c.base.String(), *b.Snapshot)
	}
	applied, err := c.Remote(op)
	if err != nil {
		return nil, ot.Op{}, err
	}
	c.epoch, c.version = b.Epoch, b.To
	return c.flush(), applied, nil
}

// Diff returns one op turning a into b: keep the common prefix and suffix,
// replace the middle.
func Diff(a, b string) ot.Op { return ot.Diff(a, b, 0) }

// copy returns a deep copy of c.
func (c *Client) copy() *Client {
	d := *c
	d.text, d.base = c.text.Clone(), c.base.Clone()
	if c.inflight != nil {
		e := *c.inflight
		e.Op = e.Op.Clone()
		d.inflight = &e
	}
	if c.buffer != nil {
		b := c.buffer.Clone()
		d.buffer = &b
	}
	return &d
}
