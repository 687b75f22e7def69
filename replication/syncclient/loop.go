package syncclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/journal"
	"github.com/clone2clone/c2c/replication/syncwire"
)

func (c *Client) loop() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Stop()
		if d := c.st.d; d.Pending() && !d.Frozen() {
			timer.Reset(max(time.Duration(d.WindowEnd()-c.wall())*time.Millisecond, 0))
		}
		select {
		case f := <-c.reqs:
			f()
		case <-timer.C:
			c.tick()
		case <-c.ctx.Done():
			if c.conn != nil {
				c.conn.close()
			}
			return
		}
	}
}

func (c *Client) fatal(err error) {
	c.log.Error("sync client: stopping", "err", err)
	c.cancel()
}

func (c *Client) append(rec []byte) bool {
	if err := c.st.journal.Append(c.ctx, rec); err != nil {
		c.fatal(fmt.Errorf("journal: %w", err))
		return false
	}
	return true
}

// tick closes the window that passed; a tick that closed a batch is a record.
func (c *Client) tick() {
	now := c.now()
	c.st.d.Tick(now)
	if len(c.st.d.Ready().Send) == 0 {
		return
	}
	if !c.append(journal.NewRec(recTick).I(int64(now))) {
		return
	}
	c.sendCore()
}

// sendCore takes what the core closed (the journal holds its cause) and
// sends it if a session is up.
func (c *Client) sendCore() {
	msgs := c.st.take()
	for _, m := range msgs {
		c.sendMsg(m)
	}
	c.notify()
}

func (c *Client) sendMsg(m replication.Message) {
	if c.conn == nil {
		return
	}
	k := syncwire.KindBatch
	switch m.Kind {
	case replication.MsgChunk:
		k = syncwire.KindChunk
	case replication.MsgOffer:
		k = syncwire.KindOffer
	}
	c.send(&syncwire.Message{Kind: k, Data: m.Data})
}

func (c *Client) send(m *syncwire.Message) {
	if c.conn == nil {
		return
	}
	select {
	case c.conn.out <- m:
	default:
		c.log.Warn("sync client: send queue full, dropping the session")
		c.conn.close()
		c.conn = nil
	}
}

// Connect opens the sync session: Hello, the clone's Welcome, then the
// batches it lacks. It returns once welcomed; the session then runs until
// the stream ends (Connected in Status).
func (c *Client) Connect(ctx context.Context) error {
	if len(c.clone.Addrs) > 0 {
		if err := c.h.Connect(ctx, c.clone); err != nil {
			return fmt.Errorf("sync client: reach clone %s: %w", c.clone.ID, err)
		}
	}
	st, err := c.h.NewStream(ctx, c.clone.ID, syncwire.Protocol)
	if err != nil {
		return fmt.Errorf("sync client: open %s: %w", syncwire.Protocol, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	var hello *syncwire.Hello
	if err := c.do(ctx, func() {
		pos, set := c.st.d.Position(), c.st.set
		hello = &syncwire.Hello{User: []byte(c.cfg.User), Device: c.cfg.Device, Epoch: set.Epoch, SyncMs: set.SyncMs,
			MaxDelay: set.MaxDelay, Apps: set.Apps, Number: pos.Number, NextSeq: pos.NextSeq, LastNet: pos.LastNet}
	}); err != nil {
		_ = st.Reset()
		return err
	}
	n, err := syncwire.WriteFrame(st, &syncwire.Message{Kind: syncwire.KindHello, Hello: hello})
	if err != nil {
		_ = st.Reset()
		return fmt.Errorf("sync client: hello: %w", err)
	}
	r := bufio.NewReader(st)
	m, _, err := syncwire.ReadFrame(r, syncwire.MaxFrame)
	if err != nil {
		_ = st.Reset()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("sync client: waiting for welcome: %w", err)
	}
	if m.Kind == syncwire.KindRefuse {
		_ = st.Reset()
		return &Refusal{Code: m.Code, Reason: m.Reason}
	}
	if m.Kind != syncwire.KindWelcome {
		_ = st.Reset()
		return fmt.Errorf("sync client: first message of kind %d", m.Kind)
	}
	x := &conn{st: st, out: make(chan *syncwire.Message, 1<<14), done: make(chan struct{})}
	var werr error
	if err := c.do(ctx, func() { werr = c.welcomed(x, m.Welcome, n) }); err != nil {
		x.close()
		return err
	}
	if werr != nil {
		x.close()
		return werr
	}
	c.wg.Add(2)
	go c.write(x)
	go c.read(x, r)
	return nil
}

// welcomed makes x the session and sends the batches the clone lacks.
func (c *Client) welcomed(x *conn, w *syncwire.Welcome, helloBytes int) error {
	pos := c.st.d.Position()
	if w.Taken > pos.Number {
		return fmt.Errorf("%w: the clone holds batch %d, this device closed %d", ErrMirrorAhead, w.Taken, pos.Number)
	}
	if c.conn != nil {
		c.conn.close()
	}
	c.conn = x
	c.status.BytesSent += uint64(helloBytes)
	c.status.Acked = max(c.status.Acked, w.Taken)
	c.status.Welcomed, c.status.Relayed = true, w.Relayed
	c.st.ack(w.Taken)
	c.replayed(syncwire.Replayed{Number: w.Replayed, StateHash: w.StateHash})
	for _, p := range c.st.unacked {
		for _, m := range p.msgs {
			c.sendMsg(m)
		}
	}
	c.notify()
	return nil
}

func (c *Client) replayed(r syncwire.Replayed) {
	h, ok := c.st.hashAt[r.Number]
	c.status.Replayed, c.status.Match = r, ok && h == r.StateHash
}

func (c *Client) write(x *conn) {
	defer c.wg.Done()
	for {
		select {
		case <-x.done:
			return
		case <-c.ctx.Done():
			x.close()
			return
		case m := <-x.out:
			n, err := syncwire.WriteFrame(x.st, m)
			if err != nil {
				x.close()
				return
			}
			_ = c.do(c.ctx, func() { c.status.BytesSent += uint64(n) })
		}
	}
}

func (c *Client) read(x *conn, r *bufio.Reader) {
	defer c.wg.Done()
	defer x.close()
	for {
		m, _, err := syncwire.ReadFrame(r, syncwire.MaxFrame)
		if err != nil {
			_ = c.do(c.ctx, func() {
				if c.conn == x {
					c.conn = nil
					c.notify()
				}
			})
			return
		}
		if err := c.do(c.ctx, func() { c.frame(x, m) }); err != nil {
			return
		}
	}
}

// frame takes one message from the clone.
func (c *Client) frame(x *conn, m *syncwire.Message) {
	if c.conn != x {
		return
	}
	d := c.st.d
	switch m.Kind {
	case syncwire.KindNet:
		in := replication.NetInput{NetSeq: m.Net.NetSeq, App: m.Net.App, Payload: m.Net.Payload}
		if d.Frozen() {
			c.heldNet = append(c.heldNet, in)
			return
		}
		c.consume(in)
	case syncwire.KindAck:
		c.status.Acked = max(c.status.Acked, m.Number)
		c.st.ack(m.Number)
	case syncwire.KindReplayed:
		c.replayed(*m.Replayed)
		c.status.Replays++
	case syncwire.KindResync:
		now := c.now()
		if err := d.HandleResync(now, replication.ResyncRequest{Number: m.Number, Cause: syncwire.CauseErr(m.Cause)}); err != nil {
			c.log.Warn("sync client: resync", "err", err)
			return
		}
		if !c.append(journal.NewRec(recResync).I(int64(now)).U(m.Number)) {
			return
		}
		c.sendCore()
	case syncwire.KindWant:
		for _, h := range m.Want {
			b, err := d.Chunk(h)
			if err != nil {
				c.log.Warn("sync client: wanted chunk missing", "chunk", h, "err", err)
				continue
			}
			c.send(&syncwire.Message{Kind: syncwire.KindChunk, Data: b})
		}
	case syncwire.KindDone:
		now := c.now()
		if err := d.HandleDone(now, replication.ResyncDone{Number: m.Number}); err != nil {
			c.log.Warn("sync client: resync done", "err", err)
			return
		}
		if !c.append(journal.NewRec(recDone).I(int64(now)).U(m.Number)) {
			return
		}
		c.status.Resyncs++
		c.st.ack(m.Number)
		c.status.Acked = max(c.status.Acked, m.Number)
		held := c.heldNet
		c.heldNet = nil
		for _, in := range held {
			c.consume(in)
		}
	case syncwire.KindRefuse:
		c.log.Warn("sync client: the clone refused", "code", m.Code, "reason", m.Reason)
		x.close()
		c.conn = nil
	default:
		c.log.Warn("sync client: unexpected message", "kind", m.Kind)
		x.close()
		c.conn = nil
	}
	c.notify()
}

// consume applies a relayed network input and records it.
func (c *Client) consume(in replication.NetInput) {
	now := c.now()
	_, err := c.st.d.Network(now, in)
	if !netOK(err) {
		if !errors.Is(err, replication.ErrNetOrder) {
			c.log.Warn("sync client: network input", "seq", in.NetSeq, "err", err)
		}
		return
	}
	if !c.append(journal.NewRec(recNet).I(int64(now)).U(in.NetSeq).B([]byte(in.App)).B(in.Payload)) {
		return
	}
	c.sendCore()
}

// KeepConnected connects and reconnects (with backoff up to max) until ctx ends.
func (c *Client) KeepConnected(ctx context.Context, maxBackoff time.Duration) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.Connect(cctx)
		cancel()
		if err == nil {
			backoff = 50 * time.Millisecond
			_ = c.Wait(ctx, func(s Status) bool { return !s.Connected })
		} else if errors.Is(err, ErrRefused) || errors.Is(err, ErrMirrorAhead) || errors.Is(err, ErrClosed) {
			c.log.Error("sync client: giving up", "err", err)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
