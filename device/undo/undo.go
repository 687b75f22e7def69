// Package undo is the pure core of a member's undo and redo: a stack of
// the inverses of its own edits, each transformed past every later edit
// (remote and its own), so that undoing an edit takes back exactly what
// that edit did to the text as it is now and never another member's text.
//
// The top of each stack applies to the current text; the entry below it
// applies to the text after the top one was applied, and so on (ot.js's
// UndoManager). A remote op is therefore transformed past the entries top
// down, each one moving the op onto the base of the next. An undo pops the
// top inverse, which the caller applies as a local edit, and pushes that
// edit's inverse on the redo stack; a redo does the reverse; any other
// local edit clears the redo stack.
//
// Positions are the ot package's code points. Nothing here starts a
// goroutine, reads a clock or does I/O.
package undo

import (
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/docsync/ot"
)

// ErrEmpty: nothing to undo (or redo).
var ErrEmpty = errors.New("undo: nothing to undo")

// DefaultDepth is how many edits a Stack remembers by default.
const DefaultDepth = 1000

// Stack is one member's undo and redo history of one document.
type Stack struct {
	depth      int
	undo, redo []ot.Op // inverses; the last one is the top
}

// New returns an empty stack that keeps at most depth edits (the oldest
// are forgotten first; depth < 1 means DefaultDepth).
func New(depth int) *Stack {
	if depth < 1 {
		depth = DefaultDepth
	}
	return &Stack{depth: depth}
}

// CanUndo reports whether an edit can be undone.
func (s *Stack) CanUndo() bool { return len(s.undo) > 0 }

// CanRedo reports whether an undone edit can be redone.
func (s *Stack) CanRedo() bool { return len(s.redo) > 0 }

// Local records op, a local edit applied to before (the text it was
// based on). It clears the redo stack.
func (s *Stack) Local(op ot.Op, before string) error {
	inv, err := ot.Invert(op, before)
	if err != nil {
		return fmt.Errorf("undo: %w", err)
	}
	s.redo = s.redo[:0]
	s.push(&s.undo, inv)
	return nil
}

// Join records op like Local, as part of the last undo step: one Undo then
// takes back both (a run of typing). Without a step to join it is Local.
func (s *Stack) Join(op ot.Op, before string) error {
	n := len(s.undo)
	if n == 0 {
		return s.Local(op, before)
	}
	inv, err := ot.Invert(op, before)
	if err != nil {
		return fmt.Errorf("undo: %w", err)
	}
	// inv applies to the text now and leaves the text the top applies to.
	joined, err := ot.Compose(inv, s.undo[n-1])
	if err != nil {
		return fmt.Errorf("undo: %w", err)
	}
	s.redo = s.redo[:0]
	s.undo[n-1] = joined
	return nil
}

// Remote moves both stacks past op, an edit by anyone else applied to the
// current text.
func (s *Stack) Remote(op ot.Op) error {
	if err := transformPast(s.undo, op); err != nil {
		return err
	}
	return transformPast(s.redo, op)
}

// Undo pops the inverse of the last edit not undone yet: the caller
// applies it to the current text as a local edit and then calls Undone
// with the text it was applied to.
func (s *Stack) Undo() (ot.Op, error) { return pop(&s.undo) }

// Redo pops the inverse of the last undo; the caller applies it as a local
// edit and then calls Redone with the text it was applied to.
func (s *Stack) Redo() (ot.Op, error) { return pop(&s.redo) }

// Undone records that op, returned by Undo, was applied to before: its
// inverse goes on the redo stack.
func (s *Stack) Undone(op ot.Op, before string) error {
	inv, err := ot.Invert(op, before)
	if err != nil {
		return fmt.Errorf("undo: %w", err)
	}
	s.push(&s.redo, inv)
	return nil
}

// Redone records that op, returned by Redo, was applied to before: its
// inverse goes back on the undo stack (the redo stack stays).
func (s *Stack) Redone(op ot.Op, before string) error {
	inv, err := ot.Invert(op, before)
	if err != nil {
		return fmt.Errorf("undo: %w", err)
	}
	s.push(&s.undo, inv)
	return nil
}

// Reset forgets both stacks (the text was replaced wholesale).
func (s *Stack) Reset() { s.undo, s.redo = s.undo[:0], s.redo[:0] }

func (s *Stack) push(st *[]ot.Op, inv ot.Op) {
	if len(*st) >= s.depth {
		// Forget the oldest: the ones above it do not depend on it.
		n := copy(*st, (*st)[1:])
		*st = (*st)[:n]
	}
	*st = append(*st, inv)
}

func pop(st *[]ot.Op) (ot.Op, error) {
	n := len(*st)
	if n == 0 {
		return ot.Op{}, ErrEmpty
	}
	op := (*st)[n-1]
	*st = (*st)[:n-1]
	return op, nil
}

// transformPast transforms the entries, top down, past op (based on the
// top's base); each step leaves op based on the next entry's base.
func transformPast(st []ot.Op, op ot.Op) error {
	for i := len(st) - 1; i >= 0; i-- {
		inv, next, err := ot.Transform(st[i], op)
		if err != nil {
			return fmt.Errorf("undo: transform: %w", err)
		}
		st[i], op = inv, next
	}
	return nil
}
