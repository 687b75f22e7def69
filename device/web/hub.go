package web

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/device/undo"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

// hub is one open document: its loop owns the jupiter.Server that mirrors
// the device's text for the pages, and everything below.
type hub struct {
	s       *Server
	id      docsync.DocID
	doc     *client.Doc
	updates <-chan client.Update
	reqs    chan hubReq

	// Owned by the loop.
	srv        *jupiter.Server
	pages      map[*session]*page
	nextPage   int
	wanted     bool // the user wants the document online
	connecting bool
	connDone   chan error
	retry      *time.Timer
	backoff    time.Duration
	last       status
	presence   Presence
	members    []Member // last sent
}

// page is one session's Jupiter client as the hub sees it.
type page struct {
	name string // its device name in srv
	sent uint64 // next srv version to stream to it
}

// hubReq is a session's message (or join/leave) for the loop.
type hubReq struct {
	se    *session
	m     *inMsg
	op    *ot.Op
	join  bool
	leave bool
}

func newHub(s *Server, id docsync.DocID) (*hub, error) {
	d, err := s.c.Load(id)
	if err != nil {
		return nil, err
	}
	h := &hub{s: s, id: id, doc: d, updates: d.Updates(), reqs: make(chan hubReq, 64),
		pages: map[*session]*page{}, wanted: true, connDone: make(chan error, 1)}
	if s.presence != nil {
		h.presence = s.presence(d)
	}
	h.reset()
	return h, nil
}

// reset starts a fresh history over the device's text, read under the
// document's lock with every update it emitted so far dropped (the text
// already holds them).
func (h *hub) reset() {
	_ = h.doc.EditBase(func(b client.Base) ([]ot.Op, error) {
		for len(h.updates) > 0 {
			<-h.updates
		}
		h.srv = jupiter.NewServer(rand.Uint64(), b.Text(), jupiter.Params{MaxHistory: h.s.params.PageHistory})
		return nil, nil
	})
}

func (h *hub) run(ctx context.Context) {
	defer h.doc.Close()
	changed := h.doc.Changed()
	var presUpd <-chan struct{}
	if h.presence != nil {
		presUpd = h.presence.Updates()
	}
	h.connect()
	for {
		var retry <-chan time.Time
		if h.retry != nil {
			retry = h.retry.C
		}
		select {
		case <-ctx.Done():
			return
		case u := <-h.updates:
			h.s.log.Debug("web: device update", "doc", h.id, "op", u.Op.String(), "bundle", u.Bundle, "own", u.Own)
			h.remote(u.Op)
			h.pump()
		case <-changed:
			changed = h.doc.Changed()
			h.sendStatus(false)
			h.sendMembers()
		case r := <-h.reqs:
			h.handle(r)
		case err := <-h.connDone:
			h.connecting = false
			if err == nil {
				h.backoff = 0
			} else {
				h.s.log.Info("web: connect failed", "doc", h.id, "err", err)
			}
			h.sendStatus(false)
		case <-retry:
			h.retry = nil
			h.connect()
		case <-presUpd:
			h.broadcast(outMsg{T: "presence", Peers: h.presence.Peers()})
		}
	}
}

// connect starts a Connect unless one runs or the user wants it offline.
func (h *hub) connect() {
	if h.connecting || !h.wanted || h.doc.Online() {
		return
	}
	h.connecting = true
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), h.s.params.ConnectTimeout)
		defer cancel()
		h.connDone <- h.doc.Connect(ctx)
	}()
}

// scheduleRetry reconnects a dropped link after a growing pause, unless
// the clone refused the device (a fork, a misbehaviour: the user reads
// the banner and decides).
func (h *hub) scheduleRetry(st status) {
	if !h.wanted || st.Online || h.connecting || h.retry != nil || st.Refused != "" {
		return
	}
	h.backoff = min(max(2*h.backoff, h.s.params.ReconnectMin), h.s.params.ReconnectMax)
	h.retry = time.NewTimer(h.backoff)
}

func (h *hub) status() status {
	st := status{Online: h.doc.Online(), Wanted: h.wanted, Pending: h.doc.Pending(),
		CanUndo: h.doc.CanUndo(), CanRedo: h.doc.CanRedo()}
	if a := h.doc.Alarm(); a != nil {
		st.Alarm = a.Reason
	}
	if err := h.doc.Err(); err != nil && !st.Online {
		var ref *client.Refusal
		if errors.As(err, &ref) {
			st.Refused = ref.Reason
		} else if !errors.Is(err, client.ErrOffline) {
			st.LinkErr = err.Error()
		}
	}
	return st
}

// sendStatus tells every page the status if it changed (or always).
func (h *hub) sendStatus(always bool) {
	st := h.status()
	h.scheduleRetry(st)
	if st == h.last && !always {
		return
	}
	h.last = st
	h.broadcast(outMsg{T: "status", Status: &st})
}

// sendMembers tells every page the member list if it changed.
func (h *hub) sendMembers() {
	ms := members(h.doc)
	if slices.Equal(ms, h.members) {
		return
	}
	h.members = ms
	h.broadcast(outMsg{T: "members", Members: ms})
}

func (h *hub) broadcast(m outMsg) {
	for se := range h.pages {
		se.send(m)
	}
}

func (h *hub) handle(r hubReq) {
	switch {
	case r.join:
		h.join(r.se)
		return
	case r.leave:
		delete(h.pages, r.se)
		return
	}
	if h.pages[r.se] == nil {
		return // left meanwhile
	}
	switch r.m.T {
	case inEdit:
		h.edit(r.se, r.m, *r.op)
	case inUndo, inRedo:
		do := h.doc.Undo
		if r.m.T == inRedo {
			do = h.doc.Redo
		}
		if err := do(); err != nil && !errors.Is(err, undo.ErrEmpty) {
			r.se.send(outMsg{T: "error", Error: err.Error()})
		}
	case inSel:
		if h.presence != nil {
			if err := h.presence.SetSelection(Selection{Anchor: r.m.Anchor, Head: r.m.Head}); err != nil {
				h.s.log.Debug("web: selection not sent", "err", err)
			}
		}
	case inConnect:
		h.wanted = r.m.Online
		if h.retry != nil {
			h.retry.Stop()
			h.retry = nil
		}
		if h.wanted {
			h.backoff = 0
			h.connect()
		} else {
			h.doc.Disconnect()
		}
		h.sendStatus(true)
	}
}

func (h *hub) join(se *session) {
	h.nextPage++
	pg := &page{name: fmt.Sprintf("page-%d", h.nextPage), sent: h.srv.Version()}
	h.pages[se] = pg
	text := h.srv.Text()
	se.send(outMsg{T: "snapshot", Doc: hex.EncodeToString(h.id[:]), Text: &text, Version: pg.sent})
	st := h.status()
	se.send(outMsg{T: "status", Status: &st})
	if h.members != nil {
		se.send(outMsg{T: "members", Members: h.members})
	}
	if h.presence != nil {
		se.send(outMsg{T: "presence", Peers: h.presence.Peers()})
	}
}

// edit applies a page's edit: transformed past what the page had not seen
// yet (srv), applied to the device's text in the same critical section
// that drains the device's updates into srv, so srv and the device's text
// stay equal.
func (h *hub) edit(se *session, m *inMsg, op ot.Op) {
	pg := h.pages[se]
	var rerr error
	edit := h.doc.EditBase
	if m.Join {
		edit = h.doc.EditJoined
	}
	err := edit(func(client.Base) ([]ot.Op, error) {
		h.drainLocked()
		applied, dup, err := h.srv.Receive(pg.name, jupiter.Edit{Counter: m.Counter, Base: m.Base, Op: op})
		h.s.log.Debug("web: page edit", "page", pg.name, "counter", m.Counter, "base", m.Base, "op", op.String(), "applied", applied.String(), "dup", dup, "err", err)
		if err != nil || dup || applied.IsNoop() {
			rerr = err
			return nil, nil
		}
		return []ot.Op{applied}, nil
	})
	switch {
	case rerr != nil:
		// The page is out of step (or lying): it starts again from a
		// snapshot, under a new name.
		h.s.log.Info("web: page edit refused", "doc", h.id, "page", pg.name, "err", rerr)
		delete(h.pages, se)
		se.send(outMsg{T: "error", Error: "edit refused: " + rerr.Error()})
		h.join(se)
	case errors.Is(err, ot.ErrBaseLength), errors.Is(err, jupiter.ErrOp):
		// srv and the device disagree: a broken invariant of ours.
		h.s.log.Error("web: page history out of step with the device", "doc", h.id, "err", err)
		h.resync()
		return
	case err != nil:
		se.send(outMsg{T: "error", Error: "edit not saved: " + err.Error()})
	}
	h.pump()
}

// drainLocked moves the device's emitted updates into srv (inside
// EditBase's build, under the document's lock: nothing new is emitted
// meanwhile). They stream to the pages on the next pump.
func (h *hub) drainLocked() {
	for len(h.updates) > 0 {
		u := <-h.updates
		h.s.log.Debug("web: device update (drained)", "doc", h.id, "op", u.Op.String(), "bundle", u.Bundle, "own", u.Own)
		if err := h.srv.Remote(u.Op); err != nil {
			h.s.log.Error("web: device update does not fit the page history", "err", err)
		}
	}
}

func (h *hub) remote(op ot.Op) {
	if err := h.srv.Remote(op); err != nil {
		h.s.log.Error("web: device update does not fit the page history", "doc", h.id, "err", err)
		h.resync()
	}
}

// resync starts every page again from a snapshot of the device's text.
func (h *hub) resync() {
	h.reset()
	pages := h.pages
	h.pages = map[*session]*page{}
	for se := range pages {
		h.join(se)
	}
}

// pump streams srv's new entries to every page: its own edits as acks,
// the rest as ops.
func (h *hub) pump() {
	v := h.srv.Version()
	for se, pg := range h.pages {
		if pg.sent == v {
			continue
		}
		es, err := h.srv.Entries(pg.sent, v)
		if err != nil {
			delete(h.pages, se)
			h.join(se)
			continue
		}
		for i, e := range es {
			if e.Device == pg.name {
				se.send(outMsg{T: "ack"})
			} else {
				se.send(outMsg{T: "op", Op: encodeOp(e.Op), Version: pg.sent + uint64(i) + 1})
			}
		}
		pg.sent = v
	}
}
