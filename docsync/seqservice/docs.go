package seqservice

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// docState is one registered document; only the loop touches it.
type docState struct {
	id  docsync.DocID
	seq sequencer.Orderer // sequencer.Honest unless WithSequencer

	submit, entries, heads *pubsub.Topic
	entriesOut, headsOut   Topic                // what the publisher publishes on
	sub                    *pubsub.Subscription // announces the sequencer on submit

	// ckptSeq and firstKept: the last checkpoint and the first entry
	// kept after the genesis (compact.go).
	ckptSeq, firstKept uint64
	feeds              map[docsync.MemberID]*feed // members' feeds (feed.go)
	// began: this process ordered the genesis, so every member has known
	// this sequencer from the start (not a move, takeover or restart).
	began bool

	headSeq   uint64 // seq of the last head published
	headTicks int    // ticks since then
	headEvery int    // ticks between republishes of an unchanged head
}

// Republishing an unchanged head: first after headRepeatMin ticks, then at
// doubling gaps up to headRepeatMax, so that a sequencer holding thousands
// of idle documents does not sign and send thousands of heads a second.
const (
	headRepeatMin = 5
	headRepeatMax = 60
)

// memberSet is the membership the submit validator and the history
// handler check against, and the document's sequencer for the latter.
type memberSet struct {
	roles map[docsync.MemberID]docsync.Role
	seq   sequencer.Orderer
}

func entryKey(doc docsync.DocID, seq uint64) datastore.Key {
	return datastore.NewKey(fmt.Sprintf("/d/%s/%016x", hex.EncodeToString(doc[:]), seq))
}

// openDoc creates the state of doc and joins its topics (loop only).
func (s *Service) openDoc(doc docsync.DocID) (*docState, error) {
	d := &docState{id: doc, seq: s.opts.factory(doc, s.key), feeds: map[docsync.MemberID]*feed{}}
	sub := netproto.SubmitTopic(doc)
	if err := s.ps.RegisterTopicValidator(sub, s.validateSubmit(doc)); err != nil {
		return nil, fmt.Errorf("seqservice: validator: %w", err)
	}
	var err error
	if d.submit, err = s.ps.Join(sub); err != nil {
		_ = s.ps.UnregisterTopicValidator(sub)
		return nil, fmt.Errorf("seqservice: join: %w", err)
	}
	if d.entries, err = s.ps.Join(netproto.EntriesTopic(doc)); err == nil {
		d.heads, err = s.ps.Join(netproto.HeadsTopic(doc), netproto.HeadsTopicOpts()...)
	}
	if err == nil {
		// The subscription announces the sequencer on the topic and lets
		// gossipsub take its messages; it delivers none, since the
		// validator takes every envelope itself (validateSubmit).
		d.sub, err = d.submit.Subscribe(pubsub.WithBufferSize(1))
	}
	if err != nil {
		d.close(s)
		return nil, fmt.Errorf("seqservice: join: %w", err)
	}
	d.entriesOut, d.headsOut = d.entries, d.heads
	if err := netproto.ScoreTopic(d.submit); err != nil {
		s.log.Debug("no gossipsub peer scoring for the submit topic", "err", err)
	}
	s.docs[doc] = d
	s.members.Store(doc, &memberSet{roles: map[docsync.MemberID]docsync.Role{}, seq: d.seq})
	s.stats.docs.Add(1)
	return d, nil
}

func (d *docState) close(s *Service) {
	if d.sub != nil {
		d.sub.Cancel()
	}
	for m, f := range d.feeds {
		f.stop()
		delete(d.feeds, m)
	}
	for _, t := range []*pubsub.Topic{d.submit, d.entries, d.heads} {
		if t != nil {
			_ = t.Close()
		}
	}
	_ = s.ps.UnregisterTopicValidator(netproto.SubmitTopic(d.id))
	s.members.Delete(d.id)
}

// refreshMembers publishes the sequencer's membership to the validator.
func (s *Service) refreshMembers(d *docState) {
	ms := &memberSet{roles: map[docsync.MemberID]docsync.Role{}, seq: d.seq}
	for _, m := range d.seq.Log().Membership().Members() {
		ms.roles[m.ID] = m.Role
	}
	s.members.Store(d.id, ms)
	d.dropFormerMembers(ms.roles)
}

// unfedPeers are the members on a document's entries topic that have no
// feed, out of all the peers on it.
type unfedPeers struct {
	peers   []peer.ID
	onTopic int
	began   bool // the document began on this sequencer, in this process
}

// pushable says whether pushing each entry to the unfed members costs less
// than publishing it: a publication sends a copy to every peer on the topic
// (flood publish), and each mesh hop another, so pushing wins by far while
// the unfed are at most a quarter of the topic (netproto.MaxPushEntries
// entries per stream). It wins too while they are few, however small the
// topic: a published entry stays in gossipsub's message cache for three
// heartbeats, offered (IHAVE) to the peers that join meanwhile, and every
// member that got it by feed or history pulls it again (IWANT), since
// gossipsub never saw it. During a burst of invitations, when the topic
// is a handful of invitees and the newest has no feed yet, that was 6,550
// sends of 18 add-member entries (18 MB; c2c-sim docsync --instances 101).
//
// Only for a document that began here: after a move, a takeover or a
// restart the members are still finding this sequencer, and the topic's
// IHAVE is what catches up those not yet on it (pushing there failed
// netsim TestMovesOfCompactedDoc every time, and the demo's recovery
// onto its standby did not converge in time), so there the quarter
// alone decides.
func (u unfedPeers) pushable() bool {
	return (u.began && len(u.peers) <= pushAlways) || 4*len(u.peers) <= u.onTopic
}

// pushAlways is how many unfed members get an entry pushed whatever the
// size of the topic: a push costs the sequencer one copy each, about what
// one publication's flood to a topic of that many costs it.
const pushAlways = 16

// unfedMembers lists the members on the entries topic without a feed
// (loop only). Other peers on the topic (a removed member, a stranger)
// need no entry.
func (s *Service) unfedMembers(d *docState) unfedPeers {
	v, _ := s.members.Load(d.id)
	ms, _ := v.(*memberSet)
	if d.entries == nil || ms == nil {
		return unfedPeers{}
	}
	unfed := false
	for m := range ms.roles {
		if d.feeds[m] == nil {
			unfed = true
			break
		}
	}
	if !unfed {
		return unfedPeers{} // the usual case, without asking gossipsub's loop
	}
	on := d.entries.ListPeers()
	u := unfedPeers{onTopic: len(on), began: d.began}
	for _, p := range on {
		m, err := netproto.MemberOf(p)
		if _, member := ms.roles[m]; err == nil && member && d.feeds[m] == nil {
			u.peers = append(u.peers, p)
		}
	}
	return u
}

// maybePublishHead republishes the signed head on the heads topic: at once
// when it moved, then after 5, 10, 20, ... ticks (at most 60) while it does
// not, so a clone that missed the tail of the log learns it exists and
// fetches it.
func (d *docState) maybePublishHead(s *Service) {
	if d.seq.Log().Seq() == 0 {
		return
	}
	d.headTicks++
	moved := d.seq.Log().Seq() != d.headSeq
	if moved || d.headEvery == 0 {
		d.headEvery = headRepeatMin
	} else if d.headTicks < d.headEvery {
		return
	}
	h, public := d.seq.Head(docsync.MemberID{})
	if !public {
		return // a sequencer showing clones different logs
	}
	b, err := h.Marshal()
	if err != nil {
		return
	}
	// The publisher signs and sends, off the loop; if its queue is full,
	// a later tick publishes the head instead.
	select {
	case s.heads <- outgoing{topic: d.headsOut, bytes: b, doc: d.id, seq: h.Seq}:
		d.headSeq, d.headTicks = h.Seq, 0
		if !moved {
			d.headEvery = min(2*d.headEvery, headRepeatMax)
		}
	default:
	}
}

// restore reloads every persisted document: from its checkpoint, if it has
// one, then the entries after it.
func (s *Service) restore() error {
	if err := s.openCheckpointed(s.ctx); err != nil {
		return err
	}
	res, err := s.ds.Query(s.ctx, query.Query{Prefix: "/d", Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return fmt.Errorf("seqservice: restore: %w", err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("seqservice: restore: %w", r.Error)
		}
		doc, seq, ok := parseEntryKey(r.Key)
		if !ok {
			s.log.Warn("skipping unknown key", "key", r.Key)
			continue
		}
		d := s.docs[doc]
		if d == nil {
			if d, err = s.openDoc(doc); err != nil {
				return err
			}
		}
		e, err := docsync.DecodeEntry(r.Value)
		if err != nil {
			return fmt.Errorf("seqservice: restore %v seq %d: %w", doc, seq, err)
		}
		if e.Head.Seq != seq {
			return fmt.Errorf("seqservice: restore %v: key seq %d holds seq %d", doc, seq, e.Head.Seq)
		}
		if seq == 1 {
			s.docsBy[e.Envelope.Author]++
		}
		if seq <= d.seq.Log().Seq() {
			continue // kept history behind the checkpoint (compact.go)
		}
		if err := d.seq.Restore(e); err != nil {
			return fmt.Errorf("seqservice: restore %v: %w", doc, err)
		}
	}
	for _, d := range s.docs {
		s.refreshMembers(d)
		s.log.Info("restored document", "doc", d.id, "seq", d.seq.Log().Seq())
	}
	return nil
}

func parseEntryKey(k string) (docsync.DocID, uint64, bool) {
	var doc docsync.DocID
	parts := strings.Split(strings.TrimPrefix(k, "/"), "/")
	if len(parts) != 3 || parts[0] != "d" || len(parts[1]) != 64 || len(parts[2]) != 16 {
		return doc, 0, false
	}
	b, err := hex.DecodeString(parts[1])
	if err != nil {
		return doc, 0, false
	}
	copy(doc[:], b)
	seq, err := strconv.ParseUint(parts[2], 16, 64)
	return doc, seq, err == nil && seq > 0
}
