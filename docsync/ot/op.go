// Package ot implements plain-text operational transformation over Unicode
// code points, with ot.js semantics: an Op is a sequence of Retain, Insert and
// Delete components that walks the whole document, so it spans BaseLen code
// points of input and yields TargetLen code points of output.
//
// The package is pure: no goroutines, no I/O, no clock. It provides Apply (on
// strings and on the mutable Doc), Transform (satisfying TP1), Compose,
// Invert, Diff (an op from one text to another) and a compact, canonical
// binary encoding. Functions never panic on
// malformed operations; they return errors wrapping the sentinels below (the
// builder methods do panic on a negative count, a programming error).
//
// Transform satisfies TP1 only, not TP2: like ot.js and Jupiter it relies on
// a central order (the sequencer), so no op is ever transformed along two
// different paths.
package ot

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Errors returned by this package. Callers check them with errors.Is.
var (
	// ErrBaseLength: an op's BaseLen does not match the document it is
	// applied to, or the two ops given to Transform/Compose do not line up.
	ErrBaseLength = errors.New("ot: base length mismatch")
	// ErrMalformed: an op or its encoding is structurally invalid (unknown
	// kind, non-positive count, lengths that do not add up, bad varint, ...).
	ErrMalformed = errors.New("ot: malformed operation")
	// ErrNotNormalized: an encoding (or an op given to AppendBinary) is valid
	// but not in normal form, so it would not be canonical.
	ErrNotNormalized = errors.New("ot: operation not normalized")
	// ErrInvalidUTF8: inserted text is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("ot: inserted text is not valid UTF-8")
	// ErrTooLarge: an encoding exceeds the decoder's Limits.
	ErrTooLarge = errors.New("ot: operation exceeds limits")
	// ErrOutOfRange: a patch position or deletion extends past the document.
	ErrOutOfRange = errors.New("ot: patch out of range")
)

// Kind is the kind of a Component.
type Kind uint8

// Component kinds.
const (
	Retain Kind = iota + 1 // keep N code points
	Insert                 // insert Text (N is its length in code points)
	Delete                 // remove N code points
)

func (k Kind) String() string {
	switch k {
	case Retain:
		return "retain"
	case Insert:
		return "insert"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Component is one step of an Op: Retain N code points, Insert Text, or
// Delete N code points. For Insert, N must equal the number of code points of
// Text (the builder methods set it); it is cached so that splitting and
// length bookkeeping never rescan the text.
type Component struct {
	Kind Kind
	N    int
	Text string
}

// Op is a whole-document operation over Unicode code points (ot.js
// semantics): it spans BaseLen code points of input and yields TargetLen.
// Ops built with Retain/Insert/Delete are normalized: no empty components,
// adjacent equal kinds merged, an insert adjacent to a delete always first.
// The zero Op is the no-op on the empty document.
//
// Copies of an Op share Comps: the builder methods may modify the shared
// last component, so Clone an op before building on a copy of it. The
// functions of this package never modify their arguments.
type Op struct {
	Comps     []Component
	BaseLen   int
	TargetLen int
}

// Retain appends "keep n code points". n == 0 is a no-op. A negative n is a
// programming error and panics (data from outside goes through FromPatch or
// Decode, which validate).
func (o *Op) Retain(n int) *Op {
	if n < 0 {
		panic("ot: negative retain")
	}
	if n == 0 {
		return o
	}
	o.BaseLen += n
	o.TargetLen += n
	if k := len(o.Comps); k > 0 && o.Comps[k-1].Kind == Retain {
		o.Comps[k-1].N += n
		return o
	}
	o.Comps = append(o.Comps, Component{Kind: Retain, N: n})
	return o
}

// Insert appends "insert s". The empty string is a no-op. Inserts are kept
// before an adjacent delete, so the result stays normalized.
func (o *Op) Insert(s string) *Op {
	if s == "" {
		return o
	}
	return o.insertN(s, utf8.RuneCountInString(s))
}

// insertN is Insert with the code point count already known.
func (o *Op) insertN(s string, n int) *Op {
	if n == 0 {
		return o
	}
	o.TargetLen += n
	k := len(o.Comps)
	switch {
	case k > 0 && o.Comps[k-1].Kind == Insert:
		o.Comps[k-1].Text += s
		o.Comps[k-1].N += n
	case k > 0 && o.Comps[k-1].Kind == Delete:
		// Normal form puts the insert before the delete.
		if k > 1 && o.Comps[k-2].Kind == Insert {
			o.Comps[k-2].Text += s
			o.Comps[k-2].N += n
			return o
		}
		del := o.Comps[k-1]
		o.Comps[k-1] = Component{Kind: Insert, N: n, Text: s}
		o.Comps = append(o.Comps, del)
	default:
		o.Comps = append(o.Comps, Component{Kind: Insert, N: n, Text: s})
	}
	return o
}

// Delete appends "remove n code points". n == 0 is a no-op; a negative n
// panics like Retain.
func (o *Op) Delete(n int) *Op {
	if n < 0 {
		panic("ot: negative delete")
	}
	if n == 0 {
		return o
	}
	o.BaseLen += n
	if k := len(o.Comps); k > 0 && o.Comps[k-1].Kind == Delete {
		o.Comps[k-1].N += n
		return o
	}
	o.Comps = append(o.Comps, Component{Kind: Delete, N: n})
	return o
}

// push appends any component through the normalizing builders.
func (o *Op) push(c Component) {
	switch c.Kind {
	case Retain:
		o.Retain(c.N)
	case Insert:
		o.insertN(c.Text, c.N)
	case Delete:
		o.Delete(c.N)
	}
}

// Clone returns a deep copy of o that can be extended independently.
func (o Op) Clone() Op {
	o.Comps = append([]Component(nil), o.Comps...)
	return o
}

// IsNoop reports whether o leaves every document unchanged.
func (o Op) IsNoop() bool {
	for _, c := range o.Comps {
		if c.Kind != Retain {
			return false
		}
	}
	return true
}

// Equal reports whether o and p are identical component by component.
func (o Op) Equal(p Op) bool {
	if o.BaseLen != p.BaseLen || o.TargetLen != p.TargetLen || len(o.Comps) != len(p.Comps) {
		return false
	}
	for i, c := range o.Comps {
		if c != p.Comps[i] {
			return false
		}
	}
	return true
}

// String renders o for debugging, e.g. `[r3 i"ab" d2]/5->6`.
func (o Op) String() string {
	b := []byte{'['}
	for i, c := range o.Comps {
		if i > 0 {
			b = append(b, ' ')
		}
		switch c.Kind {
		case Retain:
			b = fmt.Appendf(b, "r%d", c.N)
		case Insert:
			b = fmt.Appendf(b, "i%q", c.Text)
		case Delete:
			b = fmt.Appendf(b, "d%d", c.N)
		default:
			b = fmt.Appendf(b, "?%d:%d", c.Kind, c.N)
		}
	}
	return string(fmt.Appendf(b, "]/%d->%d", o.BaseLen, o.TargetLen))
}

// Validate checks that o is well formed: known kinds, positive counts,
// valid UTF-8 inserts whose N matches their code point count, and BaseLen
// and TargetLen equal to the sums of the components. It does not require
// normal form (see IsNormalized).
func (o Op) Validate() error {
	base, target := 0, 0
	for i, c := range o.Comps {
		if c.N <= 0 {
			return fmt.Errorf("%w: component %d (%v) has count %d", ErrMalformed, i, c.Kind, c.N)
		}
		switch c.Kind {
		case Retain:
			base += c.N
			target += c.N
		case Delete:
			base += c.N
		case Insert:
			if !utf8.ValidString(c.Text) {
				return fmt.Errorf("%w: component %d", ErrInvalidUTF8, i)
			}
			// Valid UTF-8 as long in bytes as in code points is ASCII: skip
			// the count in that common case.
			if n := len(c.Text); n != c.N && utf8.RuneCountInString(c.Text) != c.N {
				return fmt.Errorf("%w: insert %d has N=%d but %d code points",
					ErrMalformed, i, c.N, utf8.RuneCountInString(c.Text))
			}
			target += c.N
		default:
			return fmt.Errorf("%w: component %d has unknown kind %d", ErrMalformed, i, c.Kind)
		}
		if base < 0 || target < 0 { // overflow
			return fmt.Errorf("%w: length overflow", ErrMalformed)
		}
	}
	if base != o.BaseLen || target != o.TargetLen {
		return fmt.Errorf("%w: components span %d->%d but op says %d->%d",
			ErrMalformed, base, target, o.BaseLen, o.TargetLen)
	}
	return nil
}

// IsNormalized reports whether o's components are in normal form: no
// adjacent components of the same kind and no delete directly followed by an
// insert. (Empty components are rejected by Validate.)
func (o Op) IsNormalized() bool {
	for i := 1; i < len(o.Comps); i++ {
		prev, cur := o.Comps[i-1].Kind, o.Comps[i].Kind
		if prev == cur || (prev == Delete && cur == Insert) {
			return false
		}
	}
	return true
}

// Normalize returns o rebuilt in normal form. o must be valid.
func (o Op) Normalize() Op {
	var out Op
	out.Comps = make([]Component, 0, len(o.Comps))
	for _, c := range o.Comps {
		out.push(c)
	}
	return out
}
