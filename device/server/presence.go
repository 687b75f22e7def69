package server

import (
	"time"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/docsync/cloneservice"
)

// Presence on the device link: a device's Selection goes to the engine
// (cloneservice shares it with the members, sealed and signed), and the
// other members' carets come back from the engine's observer; each session
// sends the latest set after the history entries it refers to.

// hubPresence is a hub's presence state (hub.mu).
type hubPresence struct {
	carets []cloneservice.Caret // on the hub's text at version at
	at     uint64
	gen    uint64 // counts the sets
}

// selection takes a device's caret on the hub's text at version v and
// gives it to the engine, moved to the text now.
func (hb *hub) selection(se *session, v uint64, sel link.Selection) {
	own := func(e *jupiter.Entry) bool { return e.Device == se.device }
	err := hb.att.SetCaret(hb.ctx, se.device, func() (int, int, bool) {
		hb.mu.Lock()
		defer hb.mu.Unlock()
		if hb.err != nil {
			return 0, 0, false
		}
		now, n := hb.srv.Version(), hb.srv.Len()
		a, ok1 := hb.srv.MapPos(v, now, sel.Anchor, own)
		h, ok2 := hb.srv.MapPos(v, now, sel.Head, own)
		return min(a, n), min(h, n), ok1 && ok2
	})
	if err != nil {
		hb.s.log.Debug("device caret not set", "doc", hb.doc, "err", err)
	}
}

// presenceLocked takes the engine's set of carets on the text now (on the
// engine's loop, hb.mu held: the history is at the text's version).
func (hb *hub) presenceLocked(carets []cloneservice.Caret) {
	hb.pres = hubPresence{carets: carets, at: hb.srv.Version(), gen: hb.pres.gen + 1}
	close(hb.changed)
	hb.changed = make(chan struct{})
}

// presenceFor returns the Presence message a session is due, if any: the
// latest set, once the session has streamed the entries it refers to,
// moved on to what it has streamed, and PresenceInterval after the last
// one; wait > 0 says when to ask again for a set held back (hb.mu held).
func (hb *hub) presenceFor(se *session, now time.Time) (m *link.Message, wait time.Duration) {
	p := &hb.pres
	if se.presGen == p.gen || se.sent < p.at {
		return nil, 0
	}
	if wait := se.presSent.Add(hb.s.params.PresenceInterval).Sub(now); wait > 0 {
		return nil, wait
	}
	se.presGen, se.presSent = p.gen, now
	m = &link.Message{Kind: link.KindPresence, Version: se.sent}
	for _, c := range p.carets {
		own := func(e *jupiter.Entry) bool { return e.Device == "" && e.Seq != 0 && e.Author == c.Member }
		a, ok1 := hb.srv.MapPos(p.at, se.sent, c.Anchor, own)
		h, ok2 := hb.srv.MapPos(p.at, se.sent, c.Head, own)
		if !ok1 || !ok2 {
			continue
		}
		m.Peers = append(m.Peers, link.PeerPresence{Member: c.Member, Name: c.Name, Device: c.Device,
			Sel: link.Selection{Anchor: a, Head: h}, AgeMS: uint64(max(now.Sub(c.Updated).Milliseconds(), 0))})
	}
	return m, 0
}
