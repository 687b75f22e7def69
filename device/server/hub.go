package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/ot"
)

// hub is one document's history and its device sessions. Its history
// follows the clone's text through an observer attached to the engine
// (called on the engine's loop, never dropping a change); a device that
// falls behind reads from this history at its own pace, and only a device
// that falls past its end (Params.History) is sent a fresh bundle.
type hub struct {
	s      *Server
	doc    docsync.DocID
	ctx    context.Context
	cancel context.CancelFunc
	att    cloneservice.Attachment

	mu       sync.Mutex
	srv      *jupiter.Server
	limit    uint64 // entries below are durable and may be streamed
	changed  chan struct{}
	err      error
	sessions map[string]*session
	// alarm is the last sequencer alarm of the document (stalled or
	// resumed), alarmGen counts them: each session sends each once.
	alarm    *link.Message
	alarmGen uint64
	pres     hubPresence // the other members' carets (presence.go)
}

func startHub(s *Server, doc docsync.DocID, epoch uint64) (*hub, error) {
	hb := &hub{s: s, doc: doc, changed: make(chan struct{}), sessions: map[string]*session{}}
	hb.ctx, hb.cancel = context.WithCancel(s.ctx)
	counters, err := s.loadCounters(hb.ctx, doc)
	if err != nil {
		hb.cancel()
		return nil, err
	}
	// The observer may run before Attach returns: hb.mu holds it off until
	// the history exists.
	hb.mu.Lock()
	defer hb.mu.Unlock()
	att, snap, err := s.eng.Attach(hb.ctx, doc, hb.observe)
	if err != nil {
		hb.cancel()
		return nil, err
	}
	hb.att = att
	hb.srv = jupiter.NewServer(epoch, snap.Text, s.params.History)
	hb.srv.Restore(counters)
	return hb, nil
}

// observe takes a change of the clone's text (engine loop): durable, so it
// may be streamed at once.
func (hb *hub) observe(c cloneservice.Change) {
	if c.Err != nil {
		hb.stop(fmt.Errorf("device server: %w", c.Err))
		return
	}
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if c.Kind == cloneservice.EventStalled || c.Kind == cloneservice.EventResumed {
		hb.alarmLocked(c)
		return
	}
	if c.Kind == cloneservice.EventPresence {
		hb.presenceLocked(c.Presence)
		return
	}
	if hb.err != nil {
		return
	}
	if err := hb.srv.RemoteFrom(c.Op, c.Seq, c.Author); err != nil {
		hb.stopLocked(fmt.Errorf("%w: %w", ErrDesync, err))
		return
	}
	hb.publishLocked(hb.srv.Version())
}

// alarmLocked passes a sequencer alarm to every session (hb.mu held).
func (hb *hub) alarmLocked(c cloneservice.Change) {
	m := &link.Message{Kind: link.KindAlarm, Alarm: link.AlarmResumed, Reason: "the sequencer resumed"}
	if c.Kind == cloneservice.EventStalled {
		m.Alarm, m.Reason = link.AlarmStalled, "the sequencer stalled"
		if c.Stall != nil {
			m.Reason = fmt.Sprintf("the sequencer stalled: %v (%s)", c.Stall.Reason, c.Stall.Detail)
		}
	}
	hb.alarm = m
	hb.alarmGen++
	close(hb.changed)
	hb.changed = make(chan struct{})
}

// publishLocked lets sessions stream the history up to v (hb.mu held).
func (hb *hub) publishLocked(v uint64) {
	if v > hb.limit {
		hb.limit = v
		close(hb.changed)
		hb.changed = make(chan struct{})
	}
}

// run executes step on the engine's loop; the ops step returns are
// proposed to the engine, and its meta records (device counters) made
// durable in the same batch. Once the engine has them (durable), the
// history so far may be streamed.
func (hb *hub) run(step func() ([]ot.Op, map[string][]byte, error)) error {
	var out []ot.Op
	var v uint64
	err := hb.att.EditFuncMeta(hb.ctx, func(cloneservice.Base) ([]ot.Op, map[string][]byte, error) {
		hb.mu.Lock()
		defer hb.mu.Unlock()
		if hb.err != nil {
			return nil, nil, hb.err
		}
		var meta map[string][]byte
		var err error
		if out, meta, err = step(); err != nil {
			return nil, nil, err
		}
		v = hb.srv.Version() // durable once EditFuncMeta returns
		return out, meta, nil
	})
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if err != nil {
		if len(out) > 0 {
			// The history holds ops the engine refused: start over.
			hb.stopLocked(fmt.Errorf("%w: %w", ErrDesync, err))
		}
		return err
	}
	hb.publishLocked(v)
	return nil
}

// stop ends the hub and its sessions; devices reconnect to a new one. It is
// safe anywhere, the engine's loop included (hb.mu not held).
func (hb *hub) stop(err error) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	hb.stopLocked(err)
}

func (hb *hub) stopLocked(err error) {
	if hb.err != nil {
		return
	}
	hb.err = err
	for _, se := range hb.sessions {
		se.end()
	}
	hb.cancel()
	if hb.att != nil {
		hb.att.Detach()
	}
	if !errors.Is(err, context.Canceled) {
		hb.s.log.Warn("device link: document sessions restart", "doc", hb.doc, "err", err)
	}
}

func (hb *hub) stopped() bool {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	return hb.err != nil
}

// open answers a session's Hello inside the loop and registers the session
// (replacing an older one of the same device).
func (hb *hub) open(se *session, h jupiter.Hello) (jupiter.Bundle, error) {
	var b jupiter.Bundle
	var old *session
	err := hb.run(func() ([]ot.Op, map[string][]byte, error) {
		v0, c0 := hb.srv.Version(), hb.srv.LastCounter(se.device)
		var err error
		if b, err = hb.srv.Bundle(se.device, h); err != nil {
			return nil, nil, err
		}
		old = hb.sessions[se.device]
		hb.sessions[se.device] = se
		hb.att.SetIdle(false) // a device looks: the document stays awake
		if hb.alarm == nil || hb.alarm.Alarm != link.AlarmStalled {
			se.alarmGen = hb.alarmGen // a new session hears of a stall only while it lasts
		}
		se.sent = b.To
		ops, err := hb.appended(v0)
		return ops, hb.counterMeta(se.device, c0), err
	})
	if old != nil {
		old.end()
	}
	return b, err
}

// edit applies a device edit inside the loop.
func (hb *hub) edit(device string, e jupiter.Edit) error {
	return hb.run(func() ([]ot.Op, map[string][]byte, error) {
		v0, c0 := hb.srv.Version(), hb.srv.LastCounter(device)
		if _, _, err := hb.srv.Receive(device, e); err != nil {
			return nil, nil, err
		}
		ops, err := hb.appended(v0)
		return ops, hb.counterMeta(device, c0), err
	})
}

// appended returns the device op appended since v0, for the engine (hb.mu held).
func (hb *hub) appended(v0 uint64) ([]ot.Op, error) {
	es, err := hb.srv.Entries(v0, hb.srv.Version())
	if err != nil || len(es) == 0 || es[0].Op.IsNoop() {
		return nil, err
	}
	return []ot.Op{es[0].Op}, nil
}

// batch is what a session streams next: the alarm it has not sent yet
// (if any), entries, then the presence due after them (if any; presWait >
// 0 says when a set held back is due); more is closed when there is more.
type batch struct {
	entries     []jupiter.Entry
	alarm, pres *link.Message
	presWait    time.Duration
	more        <-chan struct{}
}

// next returns the session's next batch.
func (hb *hub) next(se *session) (b batch, err error) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.err != nil {
		return batch{}, hb.err
	}
	if se.alarmGen != hb.alarmGen {
		se.alarmGen, b.alarm = hb.alarmGen, hb.alarm
	}
	if se.sent < hb.limit {
		if b.entries, err = hb.srv.Entries(se.sent, hb.limit); err != nil {
			return batch{}, err
		}
		se.sent = hb.limit
	}
	b.pres, b.presWait = hb.presenceFor(se, hb.s.now())
	b.more = hb.changed
	return b, nil
}

func (hb *hub) leave(se *session) {
	hb.mu.Lock()
	last := hb.sessions[se.device] == se
	if last {
		delete(hb.sessions, se.device)
	}
	if len(hb.sessions) == 0 && hb.att != nil {
		hb.att.SetIdle(true) // no device looks: the document may go dormant
	}
	hb.mu.Unlock()
	if last && hb.att != nil {
		hb.att.ClearCaret(se.device) // the members drop its caret now
	}
}
