package client

import (
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

// ErrNoUndo: the client keeps no undo history (see WithUndo).
var ErrNoUndo = errors.New("device client: no undo history (WithUndo)")

// Undo takes back the device's last edit not undone yet, as it stands now:
// its inverse transformed past every later edit, so another member's text
// stays. It is applied, persisted and sent like any edit, and shows on
// Updates (Own). Without anything
// to undo it returns undo.ErrEmpty.
func (d *Doc) Undo() error { return d.undoRedo(false) }

// Redo applies again the last edit Undo took back (undo.ErrEmpty: none).
// Any other local edit forgets what could be redone.
func (d *Doc) Redo() error { return d.undoRedo(true) }

// CanUndo reports whether Undo has an edit to take back.
func (d *Doc) CanUndo() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.undo != nil && d.undo.CanUndo()
}

// CanRedo reports whether Redo has an edit to apply again.
func (d *Doc) CanRedo() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.undo != nil && d.undo.CanRedo()
}

func (d *Doc) undoRedo(redo bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if d.undo == nil {
		return ErrNoUndo
	}
	pop, record := d.undo.Undo, d.undo.Undone
	if redo {
		pop, record = d.undo.Redo, d.undo.Redone
	}
	op, err := pop()
	for err == nil && op.IsNoop() {
		// Others took back all that edit did meanwhile: skip to the one
		// before, so the keystroke does something.
		op, err = pop()
	}
	if err != nil {
		return err
	}
	before := d.jc.Text()
	e, err := d.jc.Local(op)
	if err != nil {
		return fmt.Errorf("device client: undo: %w", err)
	}
	if err := record(op, before); err != nil {
		return err
	}
	d.presenceOpLocked(op, docsync.MemberID{}, true)
	d.emitLocked(Update{Op: op, Version: d.jc.Version(), Own: true})
	d.changedLocked(e)
	d.notifyLocked()
	return d.persistLocked()
}

// undoRemoteLocked moves the undo history past op, a remote change applied
// to the text.
func (d *Doc) undoRemoteLocked(op ot.Op) {
	if d.undo == nil {
		return
	}
	if err := d.undo.Remote(op); err != nil {
		// A broken invariant of ours, not the clone's fault: forget the
		// history rather than drop the link.
		d.c.log.Warn("undo history dropped", "doc", d.id, "err", err)
		d.undo.Reset()
	}
}
