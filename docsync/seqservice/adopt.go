package seqservice

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Adopting a document that moves here (netproto.AdoptProtocol): a member
// names the move, this sequencer fetches the history before it from that
// member, checks it end to end with the document's Orderer.Restore (every
// envelope and chain hash) and the last head against the key that signed
// it, persists it, and then orders the takeover (or, after a handover,
// orders from the seq after the move). Nothing is registered before the
// whole history checked out; a stranger's request costs a rate-limited
// stream and the history fetches it leads to.

// ErrNotMove: an adopt request that does not move a document here.
var ErrNotMove = errors.New("seqservice: not a move to this sequencer")

// MaxAdoptHistory caps the entries, and MaxAdoptBytes the encoded bytes,
// of a history this sequencer adopts: what one adopt request can make it
// fetch and store.
const (
	MaxAdoptHistory = 1 << 24
	MaxAdoptBytes   = 1 << 30
)

func (s *Service) handleAdopt(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.params.StreamTimeout))
	from := st.Conn().RemotePeer()
	var reply []byte
	err := ErrRateLimited
	if s.registerRate.Allow(from, s.opts.now()) {
		var b []byte
		if b, err = netproto.ReadFrame(bufio.NewReader(st), netproto.MaxAdoptBytes); err == nil {
			reply, err = s.adopt(from, b)
		}
	}
	if err != nil {
		s.stats.badStreams.Add(1)
		s.refusals.Refuse(from.String(), "adopt_"+reasonOf(err), err)
	}
	_ = st.SetDeadline(time.Now().Add(s.params.StreamTimeout))
	if werr := netproto.WriteReply(st, reply, err); werr != nil {
		_ = st.Reset()
	}
}

// adopt checks an adopt request from peer from and carries it out; it
// returns the move's entry.
func (s *Service) adopt(from peer.ID, b []byte) ([]byte, error) {
	req, err := netproto.DecodeAdoptRequest(b)
	if err != nil {
		return nil, err
	}
	env := req.Takeover
	if env == nil {
		env = &req.Handover.Envelope
	}
	op, _ := docsync.MoveOf(env)
	if !bytes.Equal(op.Sequencer, s.pub) {
		return nil, fmt.Errorf("%w: it names another sequencer", ErrNotMove)
	}
	if err := env.VerifyAuthor(); err != nil {
		return nil, err
	}
	if author, err := netproto.MemberOf(from); req.Takeover != nil && (err != nil || author != env.Author) {
		return nil, fmt.Errorf("%w: a takeover is sent by its author", ErrNotMove)
	}
	base := req.Base()
	if base == 0 || base > MaxAdoptHistory {
		return nil, fmt.Errorf("%w: history of %d entries", ErrNotMove, base)
	}
	doc := req.Doc()
	if reply, done, err := s.adopted(doc, req); done || err != nil {
		return reply, err
	}
	done := make(chan struct{})
	if v, busy := s.adopting.LoadOrStore(doc, done); busy {
		// Another member asked first (after a handover every member
		// does): answer once that adoption ended.
		t := time.NewTimer(s.params.StreamTimeout)
		defer t.Stop()
		select {
		case <-v.(chan struct{}):
		case <-t.C:
			return nil, fmt.Errorf("%w: still adopting %v", ErrRateLimited, doc)
		case <-s.ctx.Done():
			return nil, ErrClosed
		}
		reply, _, err := s.adopted(doc, req)
		if reply == nil && err == nil {
			err = fmt.Errorf("seqservice: adopt: the adoption another member asked for failed")
		}
		return reply, err
	}
	defer func() {
		s.adopting.Delete(doc)
		close(done)
	}()
	o, cp, err := s.fetchHistory(from, doc, base)
	if err != nil {
		s.dropHistory(doc, base)
		return nil, err
	}
	if req.Handover != nil {
		if err := s.takeHandover(o, req.Handover, base); err != nil {
			s.dropHistory(doc, base)
			return nil, err
		}
	} else if last, ok := o.Log().HashAt(base); !ok || last != env.ParentHash || o.Log().Seq() != base {
		s.dropHistory(doc, base)
		return nil, fmt.Errorf("%w: the takeover's parent hash is not the history's head", ErrNotMove)
	}
	var reply []byte
	var rerr error
	if err := s.do(s.ctx, func() { reply, rerr = s.install(doc, o, cp, req) }); err != nil {
		return nil, err
	}
	return reply, rerr
}

// takeHandover checks the handover entry at base+1 onto o, unless o
// started from a member's snapshot at that entry, and persists it.
func (s *Service) takeHandover(o sequencer.Orderer, e *docsync.Entry, base uint64) error {
	if o.Log().Seq() == base+1 {
		if h, _ := o.Log().HashAt(base + 1); h != e.Head.ChainHash {
			return fmt.Errorf("%w: the snapshot's head is not the handover", ErrNotMove)
		}
	} else if err := o.Restore(e); err != nil {
		return fmt.Errorf("seqservice: adopt: handover entry: %w", err)
	}
	if err := e.Head.Verify(o.Log().KeyAt(e.Head.Seq)); err != nil {
		return fmt.Errorf("seqservice: adopt: handover entry: %w", err)
	}
	b, err := e.Marshal()
	if err != nil {
		return err
	}
	return s.persist([]ordered{{doc: &docState{id: e.Head.Doc}, entry: e, bytes: b}})
}

// adopted answers a request this sequencer carried out already (the
// member resent it, e.g. after a restart): the move's entry again.
func (s *Service) adopted(doc docsync.DocID, req *netproto.AdoptRequest) ([]byte, bool, error) {
	var reply []byte
	var done bool
	var rerr error
	err := s.do(s.ctx, func() {
		d := s.docs[doc]
		if d == nil || !bytes.Equal(d.seq.Log().Sequencer(), s.pub) {
			switch {
			case d == nil && len(s.docs) >= s.params.MaxDocs:
				rerr = ErrTooManyDocs
			case d == nil && s.docsBy[mover(req)] >= s.params.MaxDocsPerAuthor:
				rerr = fmt.Errorf("%w: %d documents", ErrAuthorQuota, s.docsBy[mover(req)])
			}
			return // not here yet (or a partial adoption from before a restart)
		}
		done = true
		at := req.Base() + 1
		got := s.readRange(doc, at, at, 1)
		var want docsync.Hash
		if req.Takeover != nil {
			want = req.Takeover.Digest()
		} else {
			want = req.Handover.Envelope.Digest()
		}
		if len(got) == 1 {
			if e, err := docsync.DecodeEntry(got[0]); err == nil && e.Envelope.Digest() == want {
				reply = got[0]
				return
			}
		}
		rerr = fmt.Errorf("%w: document %v is on this sequencer with another history", ErrNotMove, doc)
	})
	if err != nil {
		return nil, false, err
	}
	return reply, done, rerr
}

// fetchHistory fetches entries 1..base from p, restoring each into a new
// Orderer (which checks it) and persisting it, and checks the last head's
// signature; when p compacted its log, it starts from p's snapshot
// instead and returns the compaction point that wrote (adoptsnap.go).
// Off the loop: the document is not registered yet.
func (s *Service) fetchHistory(p peer.ID, doc docsync.DocID, base uint64) (sequencer.Orderer, *compactPoint, error) {
	o := s.opts.factory(doc, s.key)
	var cp *compactPoint
	at := &docState{id: doc} // names the keys persist writes (the stats count them as ordered)
	var size int
	for next := uint64(1); next <= base; {
		ctx, cancel := context.WithTimeout(s.ctx, s.params.StreamTimeout)
		es, err := netproto.FetchHistory(ctx, s.h, p, doc, next, min(base, next+netproto.MaxHistoryBatch-1))
		cancel()
		if next == 1 && isCompacted(err) {
			// The member compacted its log: start from its snapshot (adoptsnap.go).
			st, err := s.startFromSnapshot(p, doc, base)
			if err != nil {
				return nil, nil, err
			}
			o, cp, next = st.o, &st.cp, st.next
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("seqservice: adopt: fetch %d..: %w", next, err)
		}
		if len(es) == 0 {
			return nil, nil, fmt.Errorf("seqservice: adopt: %w: the member served nothing from %d", docsync.ErrGap, next)
		}
		out := make([]ordered, 0, len(es))
		for _, e := range es {
			if e.Head.Seq != next || e.Head.Doc != doc || next > base {
				return nil, nil, fmt.Errorf("seqservice: adopt: %w: got seq %d for %d", docsync.ErrGap, e.Head.Seq, next)
			}
			if err := o.Restore(e); err != nil {
				return nil, nil, fmt.Errorf("seqservice: adopt: %w", err)
			}
			b, err := e.Marshal()
			if err != nil {
				return nil, nil, err
			}
			if size += len(b); size > MaxAdoptBytes {
				return nil, nil, fmt.Errorf("%w: history over %d bytes", ErrNotMove, MaxAdoptBytes)
			}
			out = append(out, ordered{doc: at, entry: e, bytes: b})
			next++
		}
		// Each batch is written once the last head of it verified against
		// the key the log says signs its seq: the chain commits that
		// sequencer to the whole batch. The entries are written under the
		// document's keys before it is registered (the history handler
		// serves only registered documents); a failed adoption deletes
		// them again (dropHistory).
		last := out[len(out)-1].entry.Head
		if err := last.Verify(o.Log().KeyAt(last.Seq)); err != nil {
			return nil, nil, fmt.Errorf("seqservice: adopt: head %d: %w", last.Seq, err)
		}
		if err := s.persist(out); err != nil {
			return nil, nil, err
		}
	}
	return o, cp, nil
}

// install registers an adopted document with its checked Orderer and,
// for a takeover, orders the move (loop only).
func (s *Service) install(doc docsync.DocID, o sequencer.Orderer, cp *compactPoint, req *netproto.AdoptRequest) ([]byte, error) {
	if old := s.docs[doc]; old != nil {
		old.close(s) // a partial adoption reloaded after a restart
		delete(s.docs, doc)
	}
	d, err := s.openDoc(doc)
	if err != nil {
		return nil, err
	}
	d.seq = o
	if cp != nil { // adopted from a member's snapshot: the history before it is not here
		d.ckptSeq, d.firstKept = cp.checkpoint, cp.firstKept
		s.compacted.Store(doc, *cp)
	}
	s.refreshMembers(d)
	s.docsBy[mover(req)]++ // against MaxDocsPerAuthor (a restart counts creators instead)
	s.log.Info("adopted document", "doc", doc, "seq", o.Log().Seq(), "takeover", req.Takeover != nil)
	if req.Handover != nil {
		return req.Handover.Marshal()
	}
	s.orderBatch([]*submitted{{doc: doc, env: req.Takeover}})
	at := req.Base() + 1
	got := s.readRange(doc, at, at, 1)
	if len(got) != 1 {
		return nil, fmt.Errorf("seqservice: adopt: the takeover was not ordered")
	}
	return got[0], nil
}

// mover is the member whose move an adopt request carries.
func mover(req *netproto.AdoptRequest) docsync.MemberID {
	if req.Takeover != nil {
		return req.Takeover.Author
	}
	return req.Handover.Envelope.Author
}

// dropHistory deletes what a failed adoption of doc wrote, unless the
// document is registered here (a resent request after a restart).
func (s *Service) dropHistory(doc docsync.DocID, base uint64) {
	_ = s.do(s.ctx, func() {
		if s.docs[doc] != nil {
			return
		}
		b, err := s.ds.Batch(s.ctx)
		if err != nil {
			return
		}
		for seq := uint64(1); seq <= base+1; seq++ {
			_ = b.Delete(s.ctx, entryKey(doc, seq))
		}
		_ = b.Delete(s.ctx, ckptKey(doc)) // an adoption from a snapshot wrote these
		_ = b.Delete(s.ctx, ckptFirstKey(doc))
		if err := b.Commit(s.ctx); err == nil {
			_ = s.ds.Sync(s.ctx, datastore.NewKey("/"))
		}
	})
}
