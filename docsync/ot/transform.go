package ot

import (
	"fmt"
	"slices"
)

// cursor walks an op's components, handing out pieces of them so that the
// Transform and Compose loops can consume two ops in lockstep.
type cursor struct {
	comps []Component
	i     int       // index of the current component
	cur   Component // what is left of comps[i]; Kind 0 when exhausted
}

func newCursor(comps []Component) cursor {
	c := cursor{comps: comps}
	if len(comps) > 0 {
		c.cur = comps[0]
	}
	return c
}

func (c *cursor) done() bool { return c.cur.Kind == 0 }

// next moves to the following component.
func (c *cursor) next() {
	c.i++
	if c.i < len(c.comps) {
		c.cur = c.comps[c.i]
	} else {
		c.cur = Component{}
	}
}

// take consumes n code points (n <= cur.N) of the current component and
// returns them as a component of the same kind.
func (c *cursor) take(n int) Component {
	if n >= c.cur.N {
		piece := c.cur
		c.next()
		return piece
	}
	piece := Component{Kind: c.cur.Kind, N: n}
	if c.cur.Kind == Insert {
		cut := skipRunes(c.cur.Text, 0, n)
		piece.Text = c.cur.Text[:cut]
		c.cur.Text = c.cur.Text[cut:]
	}
	c.cur.N -= n
	return piece
}

// Transform takes a and b, both based on the same document, and returns a',
// b' such that apply(apply(S, a), b') == apply(apply(S, b), a') (TP1). When
// both insert at the same position a's text goes first, so callers pass the
// op ordered earlier (committed) as a and the later one as b.
func Transform(a, b Op) (aPrime, bPrime Op, err error) {
	if err := a.Validate(); err != nil {
		return Op{}, Op{}, err
	}
	if err := b.Validate(); err != nil {
		return Op{}, Op{}, err
	}
	if a.BaseLen != b.BaseLen {
		return Op{}, Op{}, fmt.Errorf("%w: transform of ops based on %d and %d code points",
			ErrBaseLength, a.BaseLen, b.BaseLen)
	}
	aPrime.Comps = make([]Component, 0, len(a.Comps)+len(b.Comps)/2+1)
	bPrime.Comps = make([]Component, 0, len(b.Comps)+len(a.Comps)/2+1)
	ca, cb := newCursor(a.Comps), newCursor(b.Comps)
	for !ca.done() || !cb.done() {
		// Inserts do not consume base text: emit them first, a before b.
		if ca.cur.Kind == Insert {
			p := ca.take(ca.cur.N)
			aPrime.insertN(p.Text, p.N)
			bPrime.Retain(p.N)
			continue
		}
		if cb.cur.Kind == Insert {
			p := cb.take(cb.cur.N)
			aPrime.Retain(p.N)
			bPrime.insertN(p.Text, p.N)
			continue
		}
		// Both now consume base text; Validate made their totals equal, so
		// neither can run out first (checked anyway: no infinite loops).
		if ca.done() || cb.done() {
			return Op{}, Op{}, fmt.Errorf("%w: ops of unequal length", ErrMalformed)
		}
		n := min(ca.cur.N, cb.cur.N)
		ka, kb := ca.cur.Kind, cb.cur.Kind
		ca.take(n)
		cb.take(n)
		switch {
		case ka == Retain && kb == Retain:
			aPrime.Retain(n)
			bPrime.Retain(n)
		case ka == Delete && kb == Retain:
			aPrime.Delete(n)
		case ka == Retain && kb == Delete:
			bPrime.Delete(n)
			// Delete/Delete: both removed the same text; nothing is left to do.
		}
	}
	return aPrime, bPrime, nil
}

// Compose returns one op with the effect of a followed by b:
// apply(apply(S, a), b) == apply(S, Compose(a, b)). b.BaseLen must equal
// a.TargetLen.
func Compose(a, b Op) (Op, error) {
	if err := a.Validate(); err != nil {
		return Op{}, err
	}
	if err := b.Validate(); err != nil {
		return Op{}, err
	}
	if a.TargetLen != b.BaseLen {
		return Op{}, fmt.Errorf("%w: compose of an op yielding %d with one based on %d",
			ErrBaseLength, a.TargetLen, b.BaseLen)
	}
	var out Op
	out.Comps = make([]Component, 0, len(a.Comps)+len(b.Comps))
	var ins insertAccumulator
	ca, cb := newCursor(a.Comps), newCursor(b.Comps)
	for !ca.done() || !cb.done() {
		// a's deletes act on text b never sees; b's inserts on text a never made.
		if ca.cur.Kind == Delete {
			// No flush needed: normal form puts inserts before deletes anyway.
			out.Delete(ca.take(ca.cur.N).N)
			continue
		}
		if cb.cur.Kind == Insert {
			p := cb.take(cb.cur.N)
			ins.add(p.Text, p.N)
			continue
		}
		// a retains or inserts, b retains or deletes: they meet on a's output.
		if ca.done() || cb.done() {
			return Op{}, fmt.Errorf("%w: ops of unequal length", ErrMalformed)
		}
		n := min(ca.cur.N, cb.cur.N)
		pa, pb := ca.take(n), cb.take(n)
		switch {
		case pa.Kind == Retain && pb.Kind == Retain:
			ins.flushInto(&out)
			out.Retain(n)
		case pa.Kind == Retain && pb.Kind == Delete:
			ins.flushInto(&out)
			out.Delete(n)
		case pa.Kind == Insert && pb.Kind == Retain:
			ins.add(pa.Text, n)
			// Insert then Delete: the text never appears.
		}
	}
	ins.flushInto(&out)
	return out, nil
}

// insertAccumulator gathers consecutive insert pieces so that a run of many
// small inserts is concatenated once instead of quadratically.
type insertAccumulator struct {
	first  string
	buf    []byte
	n      int
	pieces int
}

func (a *insertAccumulator) add(s string, n int) {
	switch a.pieces {
	case 0:
		a.first = s
	case 1:
		a.buf = append(append(a.buf[:0], a.first...), s...)
	default:
		a.buf = append(a.buf, s...)
	}
	a.pieces++
	a.n += n
}

func (a *insertAccumulator) flushInto(o *Op) {
	switch a.pieces {
	case 0:
		return
	case 1:
		o.insertN(a.first, a.n)
	default:
		o.insertN(string(a.buf), a.n)
	}
	a.first, a.n, a.pieces = "", 0, 0
}

// ComposeChain composes ops that follow each other from a text of length
// base (each based on the text after the one before) into one op. It
// returns the composition of the longest prefix that chains, that
// prefix's length n, and why op n+1 does not chain (nil when all do). A
// batch of edits composed so is one edit on the wire, and the text it
// spans is walked once, not once per op.
//
// The prefix is composed pairwise, in rounds (a balanced tree), not left
// to right: composition is associative, so the op is the same, but a left
// fold walks the growing composition once per op, quadratic in a batch of
// scattered edits (65,536 keystrokes of a real trace took 8 s).
func ComposeChain(base int, ops ...Op) (Op, int, error) {
	n, chainErr := 0, error(nil)
	for _, op := range ops {
		if op.BaseLen != base {
			chainErr = fmt.Errorf("%w: op spans %d code points, the text has %d", ErrBaseLength, op.BaseLen, base)
			break
		}
		base = op.TargetLen
		n++
	}
	if n == 0 {
		return Op{}, 0, chainErr
	}
	level := slices.Clone(ops[:n])
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			c, err := Compose(level[i], level[i+1])
			if err != nil {
				return composeLeft(ops[:n]) // find which op fails, as a left fold does
			}
			next = append(next, c)
		}
		level = next
	}
	return level[0], n, chainErr
}

// composeLeft is the left fold of ops (which chain by length): the
// composition up to the first op Compose refuses, its index and why.
func composeLeft(ops []Op) (Op, int, error) {
	acc := ops[0]
	for i, op := range ops[1:] {
		c, err := Compose(acc, op)
		if err != nil {
			return acc, i + 1, err
		}
		acc = c
	}
	return acc, len(ops), nil
}
