package cloneservice

import (
	"bytes"
	"context"
	"slices"
	"sort"

	"github.com/clone2clone/c2c/docsync"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Info summarizes a document's state on this clone.
type Info struct {
	Doc       docsync.DocID
	Sequencer peer.ID
	Seq       uint64       // last committed seq
	Applied   uint64       // last seq whose content is applied (< Seq while a key is missing)
	Head      docsync.Hash // chain hash at Seq
	Epoch     uint64       // current key epoch
	Role      docsync.Role // our role (0 if not, or not yet, a member)
	Members   int
	Pending   bool               // an edit of ours is not committed yet
	Missing   [2]uint64          // a seq range known to exist but not received ({0,0}: none)
	Halted    *docsync.ForkProof // the fork that stopped the document (nil once it recovered)
	// Misbehaved lists the kinds of tamper and forged-seq evidence kept
	// against the sequencer the document is on (Service.Evidence has
	// them): any stopped the document.
	Misbehaved []docsync.EvidenceKind
	// Recovered lists the kinds of the alarms (fork, tamper, forged seq)
	// the document recovered from: it left the sequencer they implicate
	// (Service.Evidence still has their evidence).
	Recovered []docsync.EvidenceKind
	Stalled   *Stall // the sequencer-stalled alarm, while raised
	Broken    error  // the storage failure that stopped it
	// Dormant: nobody edited it lately, so this clone is out of its
	// topics' meshes until something happens (dormant.go).
	Dormant bool
}

// Member is a document member with its clone's peer ID.
type Member struct {
	docsync.Member
	Peer peer.ID
}

// LogEntry describes one committed entry (no plaintext).
type LogEntry struct {
	Seq       uint64
	Author    docsync.MemberID
	Counter   uint64
	Parent    uint64
	Kind      docsync.Kind
	Epoch     uint64
	ChainHash docsync.Hash
	Size      int // envelope body bytes
}

// Docs returns the tracked documents in ID order.
func (s *Service) Docs() []docsync.DocID {
	var out []docsync.DocID
	_ = s.do(context.Background(), func() {
		for id := range s.docs {
			out = append(out, id)
		}
	})
	sort.Slice(out, func(i, j int) bool { return string(out[i][:]) < string(out[j][:]) })
	return out
}

// Unopened returns the stored documents that could not be opened at start,
// with why: they stay on disk, untouched, until Forget removes them.
func (s *Service) Unopened() map[docsync.DocID]error {
	out := map[docsync.DocID]error{}
	_ = s.do(context.Background(), func() {
		for id, err := range s.failed {
			out[id] = err
		}
	})
	return out
}

// Text returns the document's text as this clone's device sees it
// (committed entries plus our own edits not yet committed).
func (s *Service) Text(doc docsync.DocID) (string, error) {
	var t string
	err := s.view(doc, func(d *docState) { t = d.r.Text() })
	return t, err
}

// Info returns a summary of the document.
func (s *Service) Info(doc docsync.DocID) (Info, error) {
	var in Info
	err := s.view(doc, func(d *docState) {
		l := d.r.Log()
		in = Info{Doc: doc, Sequencer: d.seqPeer, Seq: l.Seq(), Applied: d.r.Applied(), Head: l.HeadHash(),
			Epoch: l.Membership().Epoch(), Members: l.Membership().Len(),
			Pending: d.r.InFlight() != nil && d.r.InFlight().Counter > l.Counter(s.me),
			Broken:  d.broken, Dormant: d.dormant}
		if from, to, ok := d.r.Missing(); ok {
			in.Missing = [2]uint64{from, to}
		}
		if d.proof != nil {
			if k := d.proofSigner(); k == nil || bytes.Equal(k, l.Sequencer()) {
				in.Halted = d.proof
			}
		}
		for _, f := range d.forks { // one per sequencer: listed once
			if !bytes.Equal(f.Sequencer, l.Sequencer()) && !slices.Contains(in.Recovered, docsync.EvidenceFork) {
				in.Recovered = append(in.Recovered, docsync.EvidenceFork)
			}
		}
		for _, ev := range d.evidence {
			if bytes.Equal(ev.Sequencer, l.Sequencer()) {
				in.Misbehaved = append(in.Misbehaved, ev.Kind)
			} else {
				in.Recovered = append(in.Recovered, ev.Kind)
			}
		}
		if st := d.stall.raised; st != nil {
			c := *st
			in.Stalled = &c
		}
		if m, ok := l.Membership().Get(s.me); ok {
			in.Role = m.Role
		}
	})
	return in, err
}

// Members returns the document's members (sorted by ID).
func (s *Service) Members(doc docsync.DocID) ([]Member, error) {
	var out []Member
	err := s.view(doc, func(d *docState) {
		for _, m := range d.r.Log().Membership().Members() {
			p, _ := peerOfMember(m.ID)
			out = append(out, Member{Member: m, Peer: p})
		}
	})
	return out, err
}

// Log returns committed entries from..to (inclusive, at most 10,000). A
// range that starts behind the compaction point (docs/snapshots.md) is a
// *netproto.CompactedError naming the first entry kept.
func (s *Service) Log(doc docsync.DocID, from, to uint64) ([]LogEntry, error) {
	var last uint64
	var compacted error
	from = max(from, 1)
	if err := s.view(doc, func(d *docState) { last, compacted = d.r.Log().Seq(), d.snaps.compacted(from) }); err != nil {
		return nil, err
	}
	if compacted != nil {
		return nil, compacted
	}
	to = min(to, last, from+9999)
	var out []LogEntry
	for seq := from; seq <= to; seq++ {
		b, err := s.ds.Get(context.Background(), entryKey(doc, seq))
		if err != nil {
			return out, err
		}
		e, err := docsync.DecodeEntry(b)
		if err != nil {
			return out, err
		}
		env := &e.Envelope
		out = append(out, LogEntry{Seq: seq, Author: env.Author, Counter: env.Counter, Parent: env.Parent,
			Kind: env.Kind, Epoch: env.Epoch, ChainHash: e.Head.ChainHash, Size: len(env.Body)})
	}
	return out, nil
}

// Subscribe returns the document's events and a function that ends the
// subscription. The channel is closed when the subscription ends or the
// service closes. A subscriber that falls behind loses events (Event.Lost
// says how many); it can re-read Text.
func (s *Service) Subscribe(doc docsync.DocID) (<-chan Event, func(), error) {
	sub := &subscriber{ch: make(chan Event, s.params.SubscriberBuffer)}
	var id int
	if err := s.view(doc, func(d *docState) {
		id = d.nextID
		d.nextID++
		d.subs[id] = sub
	}); err != nil {
		return nil, nil, err
	}
	cancel := func() {
		s.post(func() {
			if d := s.docs[doc]; d != nil {
				if x, ok := d.subs[id]; ok && x == sub {
					delete(d.subs, id)
					close(sub.ch)
				}
			}
		})
	}
	return sub.ch, cancel, nil
}

// view runs f on the loop for a tracked document.
func (s *Service) view(doc docsync.DocID, f func(d *docState)) error {
	var ferr error
	if err := s.do(context.Background(), func() {
		d := s.docs[doc]
		if d == nil {
			ferr = ErrUnknownDoc
			return
		}
		f(d)
	}); err != nil {
		return err
	}
	return ferr
}

func peerOfMember(m docsync.MemberID) (peer.ID, error) { return peerOf(m[:]) }
