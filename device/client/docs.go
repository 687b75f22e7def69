package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/device/undo"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/libp2p/go-libp2p/core/network"
)

// Update is a change applied to the device's text by anything but the
// caller's own Edit calls: a remote change, a catch-up bundle, or an Undo
// or Redo (Own).
type Update struct {
	Op      ot.Op  // applies to the text before it
	Version uint64 // clone version after it
	Bundle  bool   // the catch-up bundle of a (re)connect
	Own     bool   // the device's own Undo or Redo
	// Seq and Author name the committed entry the change came from; both
	// are zero for a bundle (it composes many) and for an edit made on the
	// clone itself and not committed yet.
	Seq    uint64
	Author docsync.MemberID
}

// Stats count one document's link traffic.
type Stats struct {
	BytesSent, BytesReceived uint64 // frames on the link stream
	EditsSent                uint64 // edit messages (and Hellos carrying one)
	Ops, Acks                uint64 // stream messages received
	Bundles                  uint64 // catch-up bundles received
	LastBundleBytes          int    // frame size of the last bundle
	LastBundleSnapshot       bool   // the last bundle was a snapshot
	UpdatesLost              uint64 // updates dropped because Updates() was not read
	Alarms                   uint64 // alarm messages received (sequencer stalled, resumed)
	SelectionsSent           uint64 // carets sent (SetSelection, coalesced)
	Presence                 uint64 // presence messages applied
	PresenceStale            uint64 // presence messages for another version, dropped
}

// Doc is one open document.
type Doc struct {
	c  *Client
	id docsync.DocID

	mu      sync.Mutex
	jc      *jupiter.Client
	conn    *conn
	err     error // why the last connection ended
	stats   Stats
	changed chan struct{}
	closed  bool
	updates chan Update
	alarm   *Alarm            // the clone's sequencer-stalled alarm, while raised
	undo    *undo.Stack       // nil unless the client keeps undo histories
	members []link.MemberInfo // the clone's last member list (nil: none yet)
	pres    presenceState

	// Group commit of the persisted state (see commit.go): gen counts the
	// changes to persist, durable the last one written and synced (failed
	// the last one whose write failed, with saveErr). The writer goroutine
	// writes without mu held, so typing, acks and remote ops go on while a
	// write is in flight, and whatever changed meanwhile is written next,
	// together. unsent is the in-flight edit (by counter) that goes on
	// unsentConn once the state holding it is durable.
	gen, durable, failed uint64
	saveErr              error
	unsent               uint64 // counter; 0: nothing waits
	unsentGen            uint64
	unsentConn           *conn
	persisted            sync.Cond // on mu: durable or failed moved
	kick                 chan struct{}
	stopWriter           chan struct{}
	writerDone           chan struct{}
	writerGone           bool       // the writer ended (Close): nothing more is written
	state                *stateFile // the writer's only (nil: no state dir)
}

// Alarm is a clone's alarm about the document's sequencer that does not
// stop the document: it stalled (Reason says how). A fork or misbehaviour
// stops it instead: the link ends with a Refusal.
type Alarm struct {
	Reason string
}

// Alarm returns the clone's current sequencer-stalled alarm (nil: none).
func (d *Doc) Alarm() *Alarm {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.alarm == nil {
		return nil
	}
	a := *d.alarm
	return &a
}

type conn struct {
	st     network.Stream
	cancel context.CancelFunc
}

func newDoc(c *Client, id docsync.DocID) (*Doc, error) {
	jc, sf, err := c.loadState(id)
	if err != nil {
		return nil, err
	}
	d := &Doc{c: c, id: id, jc: jc, state: sf, changed: make(chan struct{}), updates: make(chan Update, c.params.UpdatesBuffer),
		pres: presenceState{signal: make(chan struct{}, 1)}}
	if c.undo {
		d.undo = undo.New(c.undoDepth)
	}
	d.startWriter()
	return d, nil
}

// ID is the document.
func (d *Doc) ID() docsync.DocID { return d.id }

// Text is the device's text.
func (d *Doc) Text() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.jc.Text()
}

// Updates delivers the changes to the text not made by the caller's edits
// (see Update) as they are applied (dropped, and counted in Stats, when
// not read).
func (d *Doc) Updates() <-chan Update { return d.updates }

// Stats returns the link counters.
func (d *Doc) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Online reports whether the document is connected and caught up.
func (d *Doc) Online() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conn != nil && d.jc.Online()
}

// Members returns the document's members as the clone last sent them
// (nil before the first list arrives); Changed signals a new list.
func (d *Doc) Members() []link.MemberInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.members)
}

// Changed is closed at the next change of the document's state (text,
// link, alarm, pending edits); call it again for the one after.
func (d *Doc) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

// Err is why the last connection ended (nil while online).
func (d *Doc) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Pending reports whether local edits are not acknowledged yet.
func (d *Doc) Pending() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.jc.Inflight() != nil || d.jc.Buffered()
}

// Version is the last clone version applied.
func (d *Doc) Version() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.jc.Version()
}

// Edit applies op (based on Text()) at once; it is persisted and sent.
func (d *Doc) Edit(op ot.Op) error {
	return d.EditBase(func(Base) ([]ot.Op, error) { return []ot.Op{op}, nil })
}

// EditFunc applies the ops build returns for the current length of Text
// in code points (each op based on the text after the previous one).
func (d *Doc) EditFunc(build func(length int) ([]ot.Op, error)) error {
	return d.EditBase(func(b Base) ([]ot.Op, error) { return build(b.Len) })
}

// Base is the text an edit is built against.
type Base struct {
	Len     int    // the text's length in code points
	Version uint64 // the last clone version applied (Version)
	jc      *jupiter.Client
}

// Text returns the text the edit is built against (read under the Doc's
// lock, which build holds: build must not call the Doc's methods).
func (b Base) Text() string { return b.jc.Text() }

// EditBase applies the ops build returns for the current text (each op
// based on the text after the previous one). They are composed into one
// edit, persisted and sent as one op: the clone and every member see the
// call's ops together or not at all. If an op does not follow the one
// before, the ops before it are applied (and sent) and the error says
// which failed.
func (d *Doc) EditBase(build func(b Base) ([]ot.Op, error)) error {
	return d.editBase(build, false)
}

// EditJoined is EditBase whose edit joins the last undo step, so that one
// Undo takes back both (an editor joins a run of typing this way).
func (d *Doc) EditJoined(build func(b Base) ([]ot.Op, error)) error {
	return d.editBase(build, true)
}

func (d *Doc) editBase(build func(b Base) ([]ot.Op, error), join bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	ops, err := build(Base{Len: d.jc.Len(), Version: d.jc.Version(), jc: d.jc})
	if err != nil {
		return err
	}
	op, n, opErr := ot.ComposeChain(d.jc.Len(), ops...)
	if opErr != nil {
		opErr = fmt.Errorf("edit %d of %d: %w", n+1, len(ops), opErr)
	}
	if n > 0 {
		var before string
		if d.undo != nil {
			before = d.jc.Text()
		}
		e, err := d.jc.Local(op)
		if err != nil {
			return fmt.Errorf("edit 1 of %d: %w", len(ops), err)
		}
		if d.undo != nil {
			record := d.undo.Local
			if join {
				record = d.undo.Join
			}
			if err := record(op, before); err != nil {
				return err
			}
		}
		d.presenceOpLocked(op, docsync.MemberID{}, true)
		d.changedLocked(e)
	}
	d.notifyLocked()
	// The text shows the edit at once; the call returns once it is durable
	// (and, if it went in flight, sent), grouped with whatever else changed
	// while the previous write was on its way to disk.
	if err := d.persistLocked(); err != nil {
		return err
	}
	return opErr
}

// sendLocked writes an edit on the current connection; a write error only
// drops the connection (the edit stays in flight and goes with the next Hello).
func (d *Doc) sendLocked(e *jupiter.Edit) {
	if d.conn == nil {
		return
	}
	n, err := link.WriteMessage(d.conn.st, &link.Message{Kind: link.KindEdit, Edit: e})
	d.stats.BytesSent += uint64(n)
	d.stats.EditsSent++
	if err != nil {
		d.dropLocked(err)
	}
}

func (d *Doc) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// Disconnect goes offline: edits are kept, persisted and sent on Connect.
func (d *Doc) Disconnect() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropLocked(ErrOffline)
}

func (d *Doc) dropLocked(err error) {
	d.jc.Disconnect()
	d.presenceOfflineLocked()
	if d.conn != nil {
		d.conn.cancel()
		_ = d.conn.st.Reset()
		d.conn = nil
		d.err = err
	}
	d.notifyLocked()
}

// Close disconnects and forgets the document (its state stays on disk).
func (d *Doc) Close() {
	d.mu.Lock()
	d.dropLocked(ErrClosed)
	first := !d.closed
	d.closed = true
	d.mu.Unlock()
	if first {
		d.stopWriting()
	}
	d.c.forget(d)
}

// WaitSynced blocks until the document is online with every local edit
// acknowledged by the clone.
func (d *Doc) WaitSynced(ctx context.Context) error {
	return d.wait(ctx, func() bool { return d.conn != nil && d.jc.Online() && d.jc.Inflight() == nil && !d.jc.Buffered() })
}

// WaitVersion blocks until the device has applied clone version v.
func (d *Doc) WaitVersion(ctx context.Context, v uint64) error {
	return d.wait(ctx, func() bool { return d.jc.Version() >= v })
}

// WaitText blocks until cond holds for the text.
func (d *Doc) WaitText(ctx context.Context, cond func(string) bool) error {
	return d.wait(ctx, func() bool { return cond(d.jc.Text()) })
}

func (d *Doc) wait(ctx context.Context, cond func() bool) error {
	for {
		d.mu.Lock()
		ok, ch, closed, cerr := cond(), d.changed, d.closed, d.err
		d.mu.Unlock()
		if ok {
			return nil
		}
		if closed {
			return ErrClosed
		}
		var refused *Refusal
		if errors.As(cerr, &refused) {
			return cerr
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last link error: %v)", ctx.Err(), cerr)
		case <-ch:
		}
	}
}

func (d *Doc) emitLocked(u Update) {
	select {
	case d.updates <- u:
	default:
		d.stats.UpdatesLost++
	}
}

// readLoop applies the clone's stream until it ends.
func (d *Doc) readLoop(ctx context.Context, cn *conn, r *bufio.Reader) {
	for {
		m, n, err := link.ReadMessage(r, d.c.params.MaxFrame)
		d.mu.Lock()
		if d.conn != cn {
			d.mu.Unlock()
			return
		}
		d.stats.BytesReceived += uint64(n)
		if err == nil {
			err = d.applyLocked(m)
		}
		if err != nil {
			if ctx.Err() == nil {
				d.c.log.Info("device link dropped", "doc", d.id, "err", err)
			}
			d.dropLocked(err)
			d.mu.Unlock()
			return
		}
		d.notifyLocked()
		d.mu.Unlock()
	}
}

func (d *Doc) applyLocked(m *link.Message) error {
	switch m.Kind {
	case link.KindOp:
		d.stats.Ops++
		op, err := d.jc.Remote(*m.Op)
		if err != nil {
			return err
		}
		d.undoRemoteLocked(op)
		d.presenceOpLocked(op, m.Author, false)
		d.emitLocked(Update{Op: op, Version: d.jc.Version(), Seq: m.Seq, Author: m.Author})
	case link.KindAck:
		d.stats.Acks++
		next, err := d.jc.Ack(m.Ack)
		if err != nil {
			return err
		}
		if next != nil {
			// Sent by the writer once durable; the read loop goes on.
			d.changedLocked(next)
		}
		d.presenceAckLocked()
	case link.KindRefuse:
		return &Refusal{Code: m.Code, Reason: m.Reason}
	case link.KindMembers:
		d.members = m.Members
	case link.KindAlarm:
		d.stats.Alarms++
		d.alarm = nil
		if m.Alarm == link.AlarmStalled {
			d.alarm = &Alarm{Reason: m.Reason}
		}
		d.c.log.Warn("clone alarm", "doc", d.id, "alarm", m.Reason)
	case link.KindPresence:
		d.applyPresenceLocked(m)
	default:
		return fmt.Errorf("%w: unexpected message kind %d", jupiter.ErrProtocol, m.Kind)
	}
	return nil
}
