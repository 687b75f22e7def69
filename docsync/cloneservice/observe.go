package cloneservice

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

// Version names one state of a document's text on this clone. Seq is the
// last committed seq; Changes counts the text's changes (remote updates,
// reverts and local edits) since this service opened the document, so two
// states of one document with equal Versions have equal text. Changes
// restarts at 0 when the service restarts.
type Version struct {
	Seq     uint64
	Changes uint64
}

// Base is the state an edit is built against, on the service's loop: the
// text's length in code points, its Version, and the text itself (Text
// materializes it, so a build that needs only the length pays nothing).
type Base struct {
	Len     int
	Version Version
	r       *docsync.Replica
}

// Text returns the text the edit is built against. Call it only inside the
// build function (it reads the replica on the loop).
func (b Base) Text() string {
	if b.r == nil {
		return ""
	}
	return b.r.Text()
}

func (d *docState) base() Base {
	return Base{Len: d.r.LocalLen(), Version: d.version(), r: d.r}
}

func (d *docState) version() Version {
	return Version{Seq: d.r.Log().Seq(), Changes: d.changes}
}

// Change is one change of a document's text, reported to an attached
// observer on the service's loop, in order, once it is durable.
type Change struct {
	// Kind is EventUpdate (a remote edit), EventDropped (a revert of this
	// clone's abandoned edits) or EventLocal (an edit proposed on this
	// clone through anything but the observer's own Attachment); or
	// EventStalled or EventResumed, an alarm that is no text change (Stall
	// set, Op empty, Version unchanged).
	Kind EventKind
	// Op applies to the text just before the change.
	Op ot.Op
	// Seq and Author name the committed entry of an EventUpdate.
	Seq    uint64
	Author docsync.MemberID
	// Version is the text's version after the change.
	Version Version
	// Err, when set, says the document stopped for this observer (a fork,
	// a storage failure, Forget, Close): Op is empty and no call follows.
	Err error
	// Stall: the alarm of an EventStalled or EventResumed.
	Stall *Stall
	// Presence: with Kind EventPresence (no text change, Version
	// unchanged), every other member device's caret on the text now.
	Presence []Caret
}

// ErrDocClosed: the document was forgotten or the service closed.
var ErrDocClosed = errors.New("cloneservice: document closed")

// Snapshot is a document's text and version at the moment an observer was
// attached: every later change reaches the observer.
type Snapshot struct {
	Text    string
	Version Version
}

// Attachment is an observer attached to one document (see Attach).
type Attachment interface {
	// EditFuncMeta is Service.EditFuncMeta on the attached document, except
	// that the edit is not reported back to this attachment's observer:
	// the caller applied it already.
	EditFuncMeta(ctx context.Context, build func(b Base) ([]ot.Op, map[string][]byte, error)) error
	// SetCaret sets the caret of device (attached through this
	// observer): at runs on the loop and returns positions of the text
	// then (ok false: nothing to set). The members get it coalesced and
	// refreshed (Params.Presence) until ClearCaret.
	SetCaret(ctx context.Context, device string, at func() (anchor, head int, ok bool)) error
	// ClearCaret drops device's caret and tells the members; it never blocks long.
	ClearCaret(device string)
	// Detach ends the observer's calls. It never blocks and is safe from
	// any goroutine, the observer itself included.
	Detach()
	// SetIdle says whether anyone looks through this observer now (a
	// device link with no session open on the document): an idle one
	// does not keep the document awake (dormant.go), and SetIdle(false)
	// wakes it. It never blocks and is safe from any goroutine.
	SetIdle(idle bool)
}

type attachment struct {
	s    *Service
	doc  docsync.DocID
	fn   func(Change)
	gone atomic.Bool
	idle atomic.Bool // SetIdle
}

// Attach attaches fn to doc: it returns the text and version at that
// moment, and from then on fn is called on the service's loop with every
// change of the text, in order, each once it is durable. fn must return
// quickly and must not call the Service (it runs on its loop); it may be
// called before Attach returns. Nothing is ever dropped for an observer:
// one that cannot keep up queues on its own side.
//
// This is the device link's way onto the loop: its history follows the
// clone's text exactly, with no second subscription and no retries.
func (s *Service) Attach(ctx context.Context, doc docsync.DocID, fn func(Change)) (Attachment, Snapshot, error) {
	if fn == nil {
		return nil, Snapshot{}, fmt.Errorf("cloneservice: nil observer")
	}
	a := &attachment{s: s, doc: doc, fn: fn}
	var snap Snapshot
	err := s.onDoc(ctx, doc, func(d *docState) error {
		snap = Snapshot{Text: d.r.Text(), Version: d.version()}
		d.observers = append(d.observers, a)
		s.wakeDoc(d) // for the members' carets and a prompt head
		return nil
	})
	if err != nil {
		return nil, Snapshot{}, err
	}
	return a, snap, nil
}

func (a *attachment) Detach() { a.gone.Store(true) }

// SetIdle is Attachment.SetIdle.
func (a *attachment) SetIdle(idle bool) {
	if a.idle.Swap(idle) == idle || idle {
		return
	}
	a.s.goDo(func(context.Context) { // off the caller: it may be the loop
		a.s.post(func() {
			if d := a.s.docs[a.doc]; d != nil && !a.gone.Load() {
				a.s.wakeDoc(d)
			}
		})
	})
}

func (a *attachment) EditFuncMeta(ctx context.Context, build func(b Base) ([]ot.Op, map[string][]byte, error)) error {
	if a.gone.Load() {
		return ErrDocClosed
	}
	return a.s.editFuncMeta(ctx, a.doc, build, a)
}

// observe reports a text change to every attached observer but skip (loop
// only): Version is stamped here.
func (s *Service) observe(d *docState, c Change, skip *attachment) {
	d.changes++
	c.Version = d.version()
	kept := d.observers[:0]
	for _, a := range d.observers {
		if a.gone.Load() {
			continue
		}
		kept = append(kept, a)
		if a != skip {
			a.fn(c)
		}
	}
	clear(d.observers[len(kept):])
	d.observers = kept
}

// stopObservers tells every observer the document stopped and drops them
// (loop only).
func (s *Service) stopObservers(d *docState, err error) {
	for _, a := range d.observers {
		if !a.gone.Swap(true) {
			a.fn(Change{Err: err, Version: d.version()})
		}
	}
	d.observers = nil
}
