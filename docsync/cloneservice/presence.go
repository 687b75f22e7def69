package cloneservice

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/presence"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Presence: members' carets, on the document's presence topic, sealed
// under the current key epoch and signed by the member (docsync/presence).
// Nothing of it is sequenced or persisted. Positions travel as positions
// of the committed text at a seq (the version every member agrees on) and
// are mapped to and from the local text on the loop (docsync.Replica's
// CommittedPos, LocalPos).
//
// Why a gossipsub topic rather than streams to each member's clone: a
// caret goes to every member, often (up to Params.Presence.Rate a
// second), and is small; one publish reaches all of them over the mesh
// the document's members already keep, where direct streams cost one
// stream and one send per member per caret. The topic validator checks
// the signature, membership, epoch and rate before gossipsub forwards a
// message, so a stranger's or an over-eager member's carets go no further
// than the first member they reach.

// errEpoch: a presence message under another key epoch than ours.
var errEpoch = errors.New("cloneservice: presence under another key epoch")

// Caret is another member device's caret on this clone's text, as an
// attached observer gets it (Change.Presence): positions of the text at
// the moment of the call.
type Caret struct {
	Member       docsync.MemberID
	Device, Name string
	Anchor, Head int
	Updated      time.Time // when it was last refreshed (this clone's clock)
}

// ownCaret is the caret of a device attached to this clone: positions of
// the committed text at seq.
type ownCaret struct {
	seq          uint64
	anchor, head int
	sentAt       time.Time
	dirty        bool // changed since sent
}

// docPresence is a document's presence state (loop only).
type docPresence struct {
	topic   *pubsub.Topic
	sub     *pubsub.Subscription
	table   *presence.Table
	own     map[string]*ownCaret // by device name
	waiting bool                 // a caret refers to a seq not applied yet
}

// joinPresence joins the document's presence topic (openDoc).
func (s *Service) joinPresence(d *docState) error {
	t := netproto.PresenceTopic(d.id)
	if err := s.ps.RegisterTopicValidator(t, s.validatePresence(d.id)); err != nil {
		return fmt.Errorf("cloneservice: validator: %w", err)
	}
	s.presenceOf(d)
	var err error
	if d.pres.topic, err = s.ps.Join(t); err == nil {
		d.pres.sub, err = d.pres.topic.Subscribe(pubsub.WithBufferSize(subBuffer))
	}
	return err
}

// presenceOf returns d's presence state, made on first use (a document
// opened without the network, in the policies' tests, has no topic).
func (s *Service) presenceOf(d *docState) *docPresence {
	if d.pres.table == nil {
		d.pres.table, d.pres.own = presence.NewTable(s.params.Presence), map[string]*ownCaret{}
	}
	return &d.pres
}

// leavePresence leaves the topic (docState.close).
func (s *Service) leavePresence(d *docState) {
	if d.pres.sub != nil {
		d.pres.sub.Cancel()
	}
	if d.pres.topic != nil {
		_ = d.pres.topic.Close()
	}
	_ = s.ps.UnregisterTopicValidator(netproto.PresenceTopic(d.id))
}

// validatePresence checks presence messages before gossipsub forwards
// them: well formed, this document, signed by the member it names (a
// stranger's bytes cost one signature check), within that member's rate,
// a current member, under the current epoch, and opening under its key.
func (s *Service) validatePresence(doc docsync.DocID) pubsub.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		sealed, err := presence.Parse(m.Data)
		if err == nil && sealed.Doc != doc {
			err = docsync.ErrWrongDoc
		}
		if err != nil {
			s.stats.presenceRefused.Add(1)
			return s.verdict("presence message", doc, from, m, nil, err)
		}
		if sealed.Member == s.me {
			m.ValidatorData = nil // our own publish
			return pubsub.ValidationAccept
		}
		if !s.presenceRate.Allow(sealed.Member, s.now()) {
			s.stats.presenceRefused.Add(1)
			s.refusals.Refuse(from.String(), "presence_rate", nil)
			return pubsub.ValidationIgnore // not forwarded: the rate bounds the fan-out
		}
		var u *presence.Update
		if verr := s.view(doc, func(d *docState) { u, err = s.openPresence(d, sealed) }); verr != nil {
			return pubsub.ValidationIgnore // closing, or the document just went
		}
		if errors.Is(err, errEpoch) {
			// A member a membership change behind or ahead of us: not
			// forwarded, not held against the relay.
			s.stats.presenceRefused.Add(1)
			return pubsub.ValidationIgnore
		}
		if err != nil {
			s.stats.presenceRefused.Add(1)
		}
		return s.verdict("presence message", doc, from, m, u, err)
	}
}

// openPresence checks a verified message against the document (loop
// only): a current member other than us, the current epoch, its key.
func (s *Service) openPresence(d *docState, sealed *presence.Sealed) (*presence.Update, error) {
	if _, ok := d.r.Log().Membership().Get(sealed.Member); !ok {
		return nil, fmt.Errorf("%w: presence of %v", ErrNotMember, sealed.Member)
	}
	epoch, key, ok := d.r.CurrentKey()
	if !ok || sealed.Epoch != epoch {
		return nil, fmt.Errorf("%w: %d, ours %d", errEpoch, sealed.Epoch, epoch)
	}
	return sealed.Open(key)
}

// onPresence takes a validated caret (loop only). Membership and epoch are
// checked again: they may have changed since the validator ran.
func (s *Service) onPresence(doc docsync.DocID, u *presence.Update) {
	d := s.docs[doc]
	if d == nil || d.stopped() != nil || u.Member == s.me {
		return
	}
	_, ok := d.r.Log().Membership().Get(u.Member)
	epoch, _, _ := d.r.CurrentKey()
	if !ok || u.Epoch != epoch || u.Seq+s.params.Presence.MaxLag < d.r.Applied() {
		s.stats.presenceRefused.Add(1)
		return
	}
	changed, err := s.presenceOf(d).table.Put(u, s.now())
	if err != nil {
		s.stats.presenceRefused.Add(1)
		return
	}
	s.stats.presenceTaken.Add(1)
	if changed {
		s.presenceChanged(d)
	}
}

// presenceChanged gives attached observers the carets on the local text
// now (loop only). Carets on a seq this clone has not applied yet wait.
func (s *Service) presenceChanged(d *docState) {
	p := s.presenceOf(d)
	p.waiting = false
	applied := d.r.Applied()
	// Each caret moves to the last applied seq once, so that the next
	// call maps it only through what was applied since.
	p.table.Move(func(e *presence.Entry) bool {
		if e.Seq > applied {
			p.waiting = true
			return true
		}
		a, ok1 := d.r.CommittedAt(e.Seq, e.Anchor, e.Member)
		h, ok2 := d.r.CommittedAt(e.Seq, e.Head, e.Member)
		e.Seq, e.Anchor, e.Head = applied, a, h
		return ok1 && ok2
	})
	var carets []Caret
	for _, e := range p.table.Entries() {
		a, ok1 := d.r.LocalPos(e.Seq, e.Anchor, e.Member)
		h, ok2 := d.r.LocalPos(e.Seq, e.Head, e.Member)
		if !ok1 || !ok2 {
			continue // on a seq not applied yet
		}
		n := d.r.LocalLen() // a member's positions past the text end at its end
		carets = append(carets, Caret{Member: e.Member, Device: e.Device, Name: presence.DisplayName(e),
			Anchor: min(a, n), Head: min(h, n), Updated: e.Received})
	}
	s.alertObservers(d, Change{Kind: EventPresence, Presence: carets})
}

// presenceMembership applies a membership change (loop only): a removed
// member's carets go at once, and ours go out again under the new epoch.
func (s *Service) presenceMembership(d *docState) {
	ms := d.r.Log().Membership()
	_, stillIn := ms.Get(s.me)
	p := s.presenceOf(d)
	if p.table.Retain(func(m docsync.MemberID) bool { _, ok := ms.Get(m); return ok && stillIn }) {
		s.presenceChanged(d)
	}
	for _, oc := range p.own {
		oc.dirty = true
	}
}

// presenceTick expires carets and sends ours when due (loop only): a
// coalesced change once Interval has passed, a refresh every Refresh.
func (s *Service) presenceTick(d *docState, now time.Time) {
	p := s.presenceOf(d)
	if p.table.Expire(now) || p.waiting {
		s.presenceChanged(d)
	}
	lim := s.params.Presence
	for dev, oc := range p.own {
		if (oc.dirty && now.Sub(oc.sentAt) >= lim.Interval) || now.Sub(oc.sentAt) >= lim.Refresh {
			s.publishCaret(d, dev, oc, false, now)
		}
	}
}

// setCaret sets an attached device's caret, positions of the local text
// (loop only); it is sent now unless one went less than Interval ago.
func (s *Service) setCaret(d *docState, device string, anchor, head int) {
	p := s.presenceOf(d)
	oc := p.own[device]
	if oc == nil {
		if len(p.own) >= s.params.Presence.MaxEntries {
			return
		}
		oc = &ownCaret{}
		p.own[device] = oc
	}
	oc.seq, oc.anchor = d.r.CommittedPos(anchor)
	_, oc.head = d.r.CommittedPos(head)
	oc.dirty = true
	if now := s.now(); now.Sub(oc.sentAt) >= s.params.Presence.Interval {
		s.publishCaret(d, device, oc, false, now)
	}
}

// clearCaret drops an attached device's caret and tells the members (loop only).
func (s *Service) clearCaret(d *docState, device string) {
	if oc := s.presenceOf(d).own[device]; oc != nil {
		delete(d.pres.own, device)
		s.publishCaret(d, device, oc, true, s.now())
	}
}

// publishCaret seals and publishes a caret of ours, moved to the latest
// committed seq first (loop only).
func (s *Service) publishCaret(d *docState, device string, oc *ownCaret, leave bool, now time.Time) {
	epoch, key, ok := d.r.CurrentKey()
	if !ok || d.stopped() != nil || d.pres.topic == nil {
		return
	}
	if _, member := d.r.Log().Membership().Get(s.me); !member {
		return
	}
	a, ok1 := d.r.CommittedAt(oc.seq, oc.anchor, s.me)
	h, ok2 := d.r.CommittedAt(oc.seq, oc.head, s.me)
	if !ok1 || !ok2 {
		a, h = 0, 0 // older than the ops kept: the device sends a new one soon
	}
	oc.seq, oc.anchor, oc.head = d.r.Applied(), a, h
	oc.sentAt, oc.dirty = now, false
	stamp := max(uint64(max(now.UnixMilli(), 0)), s.presenceStamp+1)
	s.presenceStamp = stamp
	b, err := presence.Seal(&presence.Update{Doc: d.id, Member: s.me, Epoch: epoch, Stamp: stamp, Device: device,
		Seq: oc.seq, Anchor: a, Head: h, Leave: leave}, key, s.id.Sign, rand.Reader)
	if err != nil {
		s.log.Debug("presence not sealed", "doc", d.id, "err", err)
		return
	}
	s.stats.presenceSent.Add(1)
	t := d.pres.topic
	s.goDo(func(ctx context.Context) { _ = t.Publish(ctx, b) })
}

// SetCaret is Attachment.SetCaret.
func (a *attachment) SetCaret(ctx context.Context, device string, at func() (anchor, head int, ok bool)) error {
	if a.gone.Load() {
		return ErrDocClosed
	}
	return a.s.onDoc(ctx, a.doc, func(d *docState) error {
		if anchor, head, ok := at(); ok {
			a.s.setCaret(d, device, anchor, head)
		}
		return nil
	})
}

// ClearCaret is Attachment.ClearCaret.
func (a *attachment) ClearCaret(device string) {
	a.s.post(func() {
		if d := a.s.docs[a.doc]; d != nil {
			a.s.clearCaret(d, device)
		}
	})
}
