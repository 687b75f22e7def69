package client

import (
	"github.com/clone2clone/c2c/device/jupiter"
)

// Group commit of a document's persisted state. Every change that must
// survive kill -9 (a local edit, an edit moved in flight by an ack or a
// bundle) bumps gen under mu; one writer goroutine per document writes the
// newest state with mu released and then marks that gen durable. Changes
// made while a write is in flight are written together by the next one, so
// a burst of keystrokes costs one write, and the read loop never waits for
// the disk. Nothing is sent before the state that holds it is durable: the
// in-flight edit waits in unsent until then.

// changedLocked records a state change to persist; e, if not nil, is the
// edit it moved in flight, sent on the current connection once durable.
func (d *Doc) changedLocked(e *jupiter.Edit) {
	d.gen++
	if e != nil {
		d.unsent, d.unsentGen, d.unsentConn = e.Counter, d.gen, d.conn
	}
	if d.c.stateDir == "" {
		d.durableLocked(d.gen, nil) // nothing to write
		return
	}
	select {
	case d.kick <- struct{}{}:
	default: // the writer is already due to run
	}
}

// persistLocked waits (mu released meanwhile) until every change made so
// far is durable, or returns why writing it failed.
func (d *Doc) persistLocked() error {
	g := d.gen
	for d.durable < g && d.failed < g && !d.writerGone {
		d.persisted.Wait()
	}
	switch {
	case d.durable >= g:
		return nil
	case d.failed >= g:
		return d.saveErr
	}
	return ErrClosed
}

// durableLocked records the outcome of writing the state as of gen g and
// sends the in-flight edit it made durable.
func (d *Doc) durableLocked(g uint64, err error) {
	defer d.persisted.Broadcast()
	if err != nil {
		d.failed, d.saveErr = g, err
		return
	}
	d.durable = g
	if d.unsent == 0 || d.unsentGen > g {
		return
	}
	cn, counter := d.unsentConn, d.unsent
	d.unsent, d.unsentConn = 0, nil
	in := d.jc.Inflight()
	if cn == nil || cn != d.conn || in == nil || in.Counter != counter {
		return // the link it was for is gone: the next Hello carries it
	}
	// Remote ops that arrived meanwhile moved the edit to the current
	// version, as a Hello's does.
	e := *in
	e.Base = d.jc.Version()
	d.sendLocked(&e)
}

func (d *Doc) startWriter() {
	d.persisted.L = &d.mu
	d.kick = make(chan struct{}, 1)
	d.stopWriter = make(chan struct{})
	d.writerDone = make(chan struct{})
	if d.c.stateDir == "" {
		close(d.writerDone)
		return
	}
	go d.writeLoop()
}

// stopWriting ends the writer once what changed so far is written.
func (d *Doc) stopWriting() {
	close(d.stopWriter)
	<-d.writerDone
}

func (d *Doc) writeLoop() {
	defer close(d.writerDone)
	for {
		select {
		case <-d.kick:
			d.writePending()
		case <-d.stopWriter:
			d.writePending()
			if d.state != nil {
				d.state.close()
			}
			d.mu.Lock()
			d.writerGone = true
			d.persisted.Broadcast()
			d.mu.Unlock()
			return
		}
	}
}

// writePending writes the newest state until nothing changed during the
// write.
func (d *Doc) writePending() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.gen > d.durable && d.gen > d.failed {
		g := d.gen
		b, err := d.jc.MarshalBinary()
		if err == nil {
			d.mu.Unlock()
			err = d.c.write(d.state, b)
			d.mu.Lock()
		}
		d.durableLocked(g, err)
	}
}

func (c *Client) write(sf *stateFile, b []byte) error {
	if c.writeHook != nil {
		return c.writeHook(func() error { return c.writeState(sf, b) })
	}
	return c.writeState(sf, b)
}
