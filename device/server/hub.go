package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/ot"
)

// hub is one document's history and its device sessions.
type hub struct {
	s      *Server
	doc    docsync.DocID
	ctx    context.Context
	cancel context.CancelFunc
	feed   <-chan cloneservice.Event // drained on the engine's loop only
	unsub  []func()

	mu       sync.Mutex
	srv      *jupiter.Server
	limit    uint64 // entries below are durable and may be streamed
	changed  chan struct{}
	err      error
	sessions map[string]*session
	origin   uint64 // cloneservice.WithOrigin tag of this hub's edits
}

// nextOrigin hands out hub origins, unique within the process.
var nextOrigin atomic.Uint64

func startHub(s *Server, doc docsync.DocID, epoch uint64) (*hub, error) {
	wake, unwake, err := s.eng.Subscribe(doc)
	if err != nil {
		return nil, err
	}
	feed, unfeed, err := s.eng.Subscribe(doc)
	if err != nil {
		unwake()
		return nil, err
	}
	hb := &hub{s: s, doc: doc, feed: feed, unsub: []func(){unwake, unfeed},
		changed: make(chan struct{}), sessions: map[string]*session{}}
	hb.ctx, hb.cancel = context.WithCancel(s.ctx)
	// Edits the hub proposes carry its origin, so that drain can tell them
	// from the clone's other local edits (the owner's control API), which
	// change the text like remote ones.
	hb.origin = nextOrigin.Add(1)
	hb.ctx = cloneservice.WithOrigin(hb.ctx, hb.origin)
	text, err := hb.readText()
	if err != nil {
		hb.stop(err)
		return nil, err
	}
	hb.srv = jupiter.NewServer(epoch, text, s.params.History)
	counters, err := s.loadCounters(hb.ctx, doc)
	if err != nil {
		hb.stop(err)
		return nil, err
	}
	hb.srv.Restore(counters)
	s.wg.Add(1)
	go hb.pump(wake)
	return hb, nil
}

// readText reads the engine's text at a moment no update is between it and
// the feed: it retries until a drain on the loop finds nothing new.
func (hb *hub) readText() (string, error) {
	for range hb.s.params.SyncAttempts {
		text, err := hb.s.eng.Text(hb.doc)
		if err != nil {
			return "", err
		}
		quiet := false
		err = hb.s.eng.EditFuncMeta(hb.ctx, hb.doc, func(n int) ([]ot.Op, map[string][]byte, error) {
			quiet = true
			for drained := false; !drained; {
				select {
				case ev, ok := <-hb.feed:
					if !ok {
						return nil, nil, ErrDesync
					}
					if ev.Op != nil || ev.Lost > 0 {
						quiet = false
					}
				default:
					drained = true
				}
			}
			quiet = quiet && n == utf8.RuneCountInString(text)
			return nil, nil, nil
		})
		if err != nil {
			return "", err
		}
		if quiet {
			return text, nil
		}
	}
	return "", fmt.Errorf("%w: the text kept changing", ErrDesync)
}

// drain applies every queued remote change (engine loop, hb.mu held) and
// checks the history's text has the engine's length n.
func (hb *hub) drain(n int) error {
	for {
		select {
		case ev, ok := <-hb.feed:
			if !ok {
				return fmt.Errorf("%w: subscription closed", ErrDesync)
			}
			if ev.Lost > 0 {
				return fmt.Errorf("%w: %d events lost", ErrDesync, ev.Lost)
			}
			foreignLocal := ev.Kind == cloneservice.EventLocal && ev.Origin != hb.origin
			if ev.Op != nil && (ev.Kind == cloneservice.EventUpdate || ev.Kind == cloneservice.EventDropped || foreignLocal) {
				if err := hb.srv.Remote(*ev.Op); err != nil {
					return fmt.Errorf("%w: %w", ErrDesync, err)
				}
			}
		default:
			if hb.srv.Len() != n {
				return fmt.Errorf("%w: history has %d code points, engine %d", ErrDesync, hb.srv.Len(), n)
			}
			return nil
		}
	}
}

// pump wakes on every engine event and drains the feed on the loop.
func (hb *hub) pump(wake <-chan cloneservice.Event) {
	defer hb.s.wg.Done()
	for {
		select {
		case <-hb.ctx.Done():
			return
		case ev, ok := <-wake:
			if !ok {
				hb.stop(errors.New("device server: document closed"))
				return
			}
			if ev.Kind == cloneservice.EventAlarm {
				hb.stop(fmt.Errorf("device server: the sequencer forked the document: %w", docsync.ErrHalted))
				return
			}
			for more := true; more; {
				select {
				case _, more = <-wake:
				default:
					more = false
				}
			}
			if _, err := hb.run(nil); err != nil && !errors.Is(err, context.Canceled) {
				hb.stop(err)
				return
			}
		}
	}
}

// run executes step on the engine's loop after draining the feed; the ops
// step returns are proposed to the engine, and its meta records (device
// counters) made durable in the same batch. Once the engine has them
// (durable), the history so far may be streamed.
func (hb *hub) run(step func() ([]ot.Op, map[string][]byte, error)) ([]ot.Op, error) {
	var v uint64
	var out []ot.Op
	err := hb.s.eng.EditFuncMeta(hb.ctx, hb.doc, func(n int) ([]ot.Op, map[string][]byte, error) {
		hb.mu.Lock()
		defer hb.mu.Unlock()
		if hb.err != nil {
			return nil, nil, hb.err
		}
		if err := hb.drain(n); err != nil {
			return nil, nil, err
		}
		var meta map[string][]byte
		if step != nil {
			var err error
			if out, meta, err = step(); err != nil {
				return nil, nil, err
			}
		}
		v = hb.srv.Version()
		return out, meta, nil
	})
	if err != nil {
		if len(out) > 0 || errors.Is(err, ErrDesync) {
			// The history holds ops the engine refused: start over.
			hb.stop(fmt.Errorf("%w: %w", ErrDesync, err))
		}
		return nil, err
	}
	hb.mu.Lock()
	if v > hb.limit {
		hb.limit = v
		close(hb.changed)
		hb.changed = make(chan struct{})
	}
	hb.mu.Unlock()
	return out, nil
}

// stop ends the hub and its sessions; devices reconnect to a new one.
// Never call it on the engine's loop: unsubscribing posts to the loop.
func (hb *hub) stop(err error) {
	hb.mu.Lock()
	first := hb.err == nil
	if first {
		hb.err = err
		for _, se := range hb.sessions {
			se.end()
		}
	}
	hb.mu.Unlock()
	hb.cancel()
	if first {
		if !errors.Is(err, context.Canceled) {
			hb.s.log.Warn("device link: document sessions restart", "doc", hb.doc, "err", err)
		}
		for _, u := range hb.unsub {
			u()
		}
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
	_, err := hb.run(func() ([]ot.Op, map[string][]byte, error) {
		v0, c0 := hb.srv.Version(), hb.srv.LastCounter(se.device)
		var err error
		if b, err = hb.srv.Bundle(se.device, h); err != nil {
			return nil, nil, err
		}
		old = hb.sessions[se.device]
		hb.sessions[se.device] = se
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
	_, err := hb.run(func() ([]ot.Op, map[string][]byte, error) {
		v0, c0 := hb.srv.Version(), hb.srv.LastCounter(device)
		if _, _, err := hb.srv.Receive(device, e); err != nil {
			return nil, nil, err
		}
		ops, err := hb.appended(v0)
		return ops, hb.counterMeta(device, c0), err
	})
	return err
}

// appended returns the device op appended since v0, for the engine (hb.mu held).
func (hb *hub) appended(v0 uint64) ([]ot.Op, error) {
	es, err := hb.srv.Entries(v0, hb.srv.Version())
	if err != nil || len(es) == 0 || es[0].Op.IsNoop() {
		return nil, err
	}
	return []ot.Op{es[0].Op}, nil
}

// next returns the entries a session may stream now and a channel closed
// when there are more.
func (hb *hub) next(se *session) ([]jupiter.Entry, <-chan struct{}, error) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.err != nil {
		return nil, nil, hb.err
	}
	if se.sent >= hb.limit {
		return nil, hb.changed, nil
	}
	es, err := hb.srv.Entries(se.sent, hb.limit)
	if err != nil {
		return nil, nil, err
	}
	se.sent = hb.limit
	return es, hb.changed, nil
}

func (hb *hub) leave(se *session) {
	hb.mu.Lock()
	if hb.sessions[se.device] == se {
		delete(hb.sessions, se.device)
	}
	hb.mu.Unlock()
}
