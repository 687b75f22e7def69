package client

import (
	"time"

	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/presence"
)

// Selection is a caret (Anchor == Head) or a selection: positions in code
// points of the device's text, the same units as ot.Op positions.
type Selection = link.Selection

// Peer is another member device's caret on this device's text.
type Peer struct {
	Member  docsync.MemberID
	Name    string // what the system knows the member by
	Color   string // "#rrggbb", stable per member (presence.Color)
	Device  string // the member's device name
	Sel     Selection
	Updated time.Time // when the member last refreshed it (this device's clock)
}

// presenceState is a Doc's presence (under Doc.mu).
type presenceState struct {
	own      *Selection // the device's caret on its text, nil: none set
	dirty    bool       // own changed since it was last sent
	lossy    bool       // own was sent while edits were pending (re-sent after the ack)
	lastSent time.Time
	timer    *time.Timer
	expiry   *time.Timer // signals PresenceUpdates when the next caret expires
	peers    []Peer      // on the device's text
	signal   chan struct{}
}

// SetSelection sets the device's caret (positions of Text(), clamped to
// it). It goes to the clone coalesced: at most one Selection per
// Params.SelectionInterval, the latest; offline it waits for Connect. The
// clone shares it with the other members and refreshes it while the
// device stays connected.
func (d *Doc) SetSelection(s Selection) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	n := d.jc.Len()
	s = Selection{Anchor: min(max(s.Anchor, 0), n), Head: min(max(s.Head, 0), n)}
	d.pres.own, d.pres.dirty = &s, true
	d.sendSelectionLocked()
	return nil
}

// Presence returns the other members' carets on Text(), without those
// not refreshed within Params.PresenceTTL.
func (d *Doc) Presence() []Peer {
	d.mu.Lock()
	defer d.mu.Unlock()
	cut := d.c.now().Add(-d.c.params.PresenceTTL)
	out := make([]Peer, 0, len(d.pres.peers))
	for _, p := range d.pres.peers {
		if p.Updated.After(cut) {
			out = append(out, p)
		}
	}
	return out
}

// PresenceUpdates signals (coalesced: one buffered signal) that Presence
// changed: a member's caret moved, came or went.
func (d *Doc) PresenceUpdates() <-chan struct{} { return d.pres.signal }

func (d *Doc) presenceChangedLocked() {
	select {
	case d.pres.signal <- struct{}{}:
	default:
	}
}

// sendSelectionLocked sends the device's caret if it changed, now or, if
// one went less than SelectionInterval ago, once that has passed.
func (d *Doc) sendSelectionLocked() {
	p := &d.pres
	if !p.dirty || p.own == nil || d.conn == nil || !d.jc.Online() || p.timer != nil {
		return
	}
	now := d.c.now()
	if wait := p.lastSent.Add(d.c.params.SelectionInterval).Sub(now); wait > 0 {
		p.timer = time.AfterFunc(wait, func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			d.pres.timer = nil
			d.sendSelectionLocked()
		})
		return
	}
	// The clone knows the text at Version: the caret goes there through
	// the pending edits (a caret inside them goes to where they start,
	// and is sent again once they are acknowledged).
	m := &link.Message{Kind: link.KindSelection, Version: d.jc.Version(),
		Sel: Selection{Anchor: d.jc.ToVersion(p.own.Anchor), Head: d.jc.ToVersion(p.own.Head)}}
	p.dirty, p.lastSent = false, now
	p.lossy = d.jc.Inflight() != nil || d.jc.Buffered()
	n, err := link.WriteMessage(d.conn.st, m)
	d.stats.BytesSent += uint64(n)
	d.stats.SelectionsSent++
	if err != nil {
		p.dirty = true
		d.dropLocked(err)
	}
}

// presenceOpLocked moves the carets through op, applied to the text:
// remote (by author) or local (this device's edit).
func (d *Doc) presenceOpLocked(op ot.Op, author docsync.MemberID, local bool) {
	p := &d.pres
	if p.own != nil {
		p.own = &Selection{Anchor: ot.TransformIndex(op, p.own.Anchor, local), Head: ot.TransformIndex(op, p.own.Head, local)}
	}
	for i := range p.peers {
		own := !local && p.peers[i].Member == author
		s := &p.peers[i].Sel
		s.Anchor, s.Head = ot.TransformIndex(op, s.Anchor, own), ot.TransformIndex(op, s.Head, own)
	}
	if len(p.peers) > 0 {
		d.presenceChangedLocked()
	}
}

// presenceAckLocked re-sends a caret that was sent while edits were
// pending, now that the clone has them.
func (d *Doc) presenceAckLocked() {
	if d.pres.lossy && d.jc.Inflight() == nil && !d.jc.Buffered() {
		d.pres.lossy, d.pres.dirty = false, d.pres.own != nil
		d.sendSelectionLocked()
	}
}

// applyPresenceLocked takes the clone's set of carets on its text at
// m.Version, which is this device's version (the stream is in order).
func (d *Doc) applyPresenceLocked(m *link.Message) {
	if m.Version != d.jc.Version() {
		d.stats.PresenceStale++
		return
	}
	now, n := d.c.now(), d.jc.Len()
	peers := make([]Peer, 0, len(m.Peers))
	for _, p := range m.Peers {
		peers = append(peers, Peer{Member: p.Member, Name: p.Name, Color: presence.Color(p.Member), Device: p.Device,
			Sel:     Selection{Anchor: min(d.jc.FromVersion(p.Sel.Anchor), n), Head: min(d.jc.FromVersion(p.Sel.Head), n)},
			Updated: now.Add(-time.Duration(min(p.AgeMS, 1<<40)) * time.Millisecond)})
	}
	d.pres.peers = peers
	d.stats.Presence++
	d.presenceChangedLocked()
	d.armExpiryLocked()
}

// armExpiryLocked sets a timer for the first caret to expire, so that
// PresenceUpdates signals its going too.
func (d *Doc) armExpiryLocked() {
	if d.pres.expiry != nil {
		d.pres.expiry.Stop()
		d.pres.expiry = nil
	}
	var first time.Time
	for _, p := range d.pres.peers {
		if first.IsZero() || p.Updated.Before(first) {
			first = p.Updated
		}
	}
	if first.IsZero() {
		return
	}
	wait := first.Add(d.c.params.PresenceTTL).Sub(d.c.now())
	d.pres.expiry = time.AfterFunc(max(wait, 0), func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		cut := d.c.now().Add(-d.c.params.PresenceTTL)
		kept := d.pres.peers[:0]
		for _, p := range d.pres.peers {
			if p.Updated.After(cut) {
				kept = append(kept, p)
			}
		}
		if len(kept) < len(d.pres.peers) {
			clear(d.pres.peers[len(kept):])
			d.pres.peers = kept
			d.presenceChangedLocked()
		}
		d.armExpiryLocked()
	})
}

// presenceOfflineLocked forgets the carets received on a connection that
// ended: the clone sends the set again on the next one.
func (d *Doc) presenceOfflineLocked() {
	if d.pres.timer != nil {
		d.pres.timer.Stop()
		d.pres.timer = nil
	}
	if d.pres.expiry != nil {
		d.pres.expiry.Stop()
		d.pres.expiry = nil
	}
	if d.pres.own != nil {
		d.pres.dirty = true
	}
	if len(d.pres.peers) > 0 {
		d.pres.peers = nil
		d.presenceChangedLocked()
	}
}
