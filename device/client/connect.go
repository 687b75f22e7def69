package client

import (
	"bufio"
	"context"
	"fmt"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/docsync"
)

// Connect (re)connects the document: it says Hello with the in-flight edit,
// applies the one catch-up bundle, sends what is buffered and starts
// following the clone. It returns once caught up.
func (d *Doc) Connect(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	if d.conn != nil {
		d.mu.Unlock()
		return nil
	}
	d.mu.Unlock()

	c := d.c
	if len(c.clone.Addrs) > 0 {
		if err := c.h.Connect(ctx, c.clone); err != nil {
			return fmt.Errorf("device client: reach clone %s: %w", c.clone.ID, err)
		}
	}
	st, err := c.h.NewStream(ctx, c.clone.ID, link.Protocol)
	if err != nil {
		return fmt.Errorf("device client: open %s: %w", link.Protocol, err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	cn := &conn{st: st, cancel: cancel}
	fail := func(err error) error {
		cancel()
		_ = st.Reset()
		return err
	}
	// Stop waiting for the bundle when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()

	d.mu.Lock()
	hello := d.jc.Connect()
	// The Hello carries the in-flight edit: durable before it is sent.
	err = d.persistLocked()
	d.mu.Unlock()
	if err != nil {
		return fail(err)
	}
	n, err := link.WriteMessage(st, &link.Message{Kind: link.KindHello,
		Hello: &link.Hello{User: c.user, Device: c.device, Doc: d.id, State: hello}})
	if err != nil {
		return fail(fmt.Errorf("device client: hello: %w", err))
	}
	r := bufio.NewReader(st)
	m, rn, err := link.ReadMessage(r, c.params.MaxFrame)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fail(fmt.Errorf("device client: waiting for the bundle: %w", err))
	}
	if m.Kind == link.KindRefuse {
		ref := &Refusal{Code: m.Code, Reason: m.Reason}
		d.mu.Lock()
		d.err = ref
		d.notifyLocked()
		d.mu.Unlock()
		return fail(ref)
	}
	if m.Kind != link.KindBundle {
		return fail(fmt.Errorf("%w: first message of kind %d", jupiter.ErrProtocol, m.Kind))
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.conn != nil {
		return fail(ErrClosed)
	}
	d.stats.BytesSent += uint64(n)
	d.stats.BytesReceived += uint64(rn)
	if hello.Inflight != nil {
		d.stats.EditsSent++
	}
	before := d.jc.Text()
	next, applied, err := d.jc.ResumeApplied(*m.Bundle)
	if err != nil {
		return fail(err)
	}
	d.undoRemoteLocked(applied)
	d.stats.Bundles++
	d.stats.LastBundleBytes = rn
	d.stats.LastBundleSnapshot = m.Bundle.Snapshot != nil
	d.conn, d.err = cn, nil
	if after := d.jc.Text(); after != before {
		d.presenceOpLocked(applied, docsync.MemberID{}, false)
		d.emitLocked(Update{Op: applied, Version: d.jc.Version(), Bundle: true})
	}
	d.changedLocked(next) // the bundle moved the state; next goes once durable
	if err := d.persistLocked(); err != nil {
		if d.conn == cn {
			d.dropLocked(err)
		}
		return fail(err)
	}
	d.notifyLocked()
	if d.conn == cn {
		go d.readLoop(cctx, cn, r)
		d.sendSelectionLocked() // the caret set while offline
	}
	return nil
}
