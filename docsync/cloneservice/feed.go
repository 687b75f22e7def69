package cloneservice

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/libp2p/go-libp2p/core/peer"
)

var (
	// errFeedDone: the document is closed or stopped; its feed is not reopened.
	errFeedDone = errors.New("cloneservice: document closed or stopped")
	// errNoLogYet: the document has no entry yet; the feed opens later.
	errNoLogYet = errors.New("cloneservice: no entry yet")
)

// feedBatch caps the entries one read of a feed hands the loop at once.
const feedBatch = 64

// follow keeps a feed of doc's entries open at its sequencer
// (netproto.FeedProtocol) until ctx ends: each entry reaches this clone
// once, straight from the sequencer, instead of from the entries topic's
// flood publish and mesh. When the feed fails or ends it is opened again
// from the next seq this clone lacks, after FeedRetry, doubling up to
// FeedRetryMax while it fails. Meanwhile the topics repair: the sequencer
// publishes an entry on the entries topic while a peer on it has no feed,
// and a head gossiped ahead of the log is a gap that is fetched.
func (s *Service) follow(ctx context.Context, doc docsync.DocID, seqPeer peer.ID, seqPub []byte) {
	defer s.wg.Done()
	rate := guard.NewLimiter[docsync.DocID](s.params.FeedRate, 1)
	wait := s.params.FeedRetry
	for {
		got, err := s.followOnce(ctx, doc, seqPeer, seqPub, rate)
		if ctx.Err() != nil || errors.Is(err, errFeedDone) {
			return
		}
		if got > 0 || errors.Is(err, errNoLogYet) {
			wait = s.params.FeedRetry
		}
		s.log.Debug("feed ended; reopening", "doc", doc, "entries", got, "retry", wait, "err", netproto.ShortError(err))
		// Jitter, so that the members of a document that all lost their
		// feeds at once (a sequencer restart) do not all come back at once.
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, s.params.FeedRetryMax)
	}
}

// followOnce opens one feed and reads it until it fails; it returns how
// many entries it delivered. Only the sequencer peer named in the
// document's genesis is asked (the stream is authenticated by libp2p), each
// entry is decoded within MaxFrame, checked to be of doc and its sequencer
// and author signatures verified here, once (or found among those another
// clone of the process verified), off the loop.
func (s *Service) followOnce(ctx context.Context, doc docsync.DocID, seqPeer peer.ID, seqPub []byte, rate *guard.Limiter[docsync.DocID]) (int, error) {
	var from uint64
	err := s.do(ctx, func() {
		d := s.docs[doc]
		if d == nil || d.stopped() != nil {
			return
		}
		from = d.r.Log().Seq() + 1
		// The sequencer the log is on now: a move (move.go) changes it.
		seqPeer, seqPub = d.seqPeer, d.r.Log().Sequencer()
	})
	if err != nil {
		return 0, err
	}
	switch from {
	case 0:
		return 0, errFeedDone
	case 1:
		// No entry yet: the genesis is still on its way to the
		// sequencer (we created the document) or from it (we joined).
		return 0, errNoLogYet
	}
	octx, cancel := context.WithTimeout(ctx, s.params.StreamTimeout)
	st, err := s.h.NewStream(octx, seqPeer, netproto.FeedProtocol)
	if err == nil {
		_ = st.SetWriteDeadline(time.Now().Add(s.params.StreamTimeout))
		if err = netproto.WriteFrame(st, netproto.FeedRequest{Doc: doc, From: from}.Marshal()); err != nil {
			_ = st.Reset()
		}
	}
	cancel()
	if err != nil {
		return 0, err
	}
	s.stats.feeds.Add(1)
	defer s.stats.feeds.Add(-1)
	s.post(func() { // a move ends this feed, so the next one is at the new sequencer
		if d := s.docs[doc]; d != nil {
			d.mv.feedReset = func() { _ = st.Reset() }
			d.fed = true
		}
	})
	defer s.post(func() { // the topics are the repair path meanwhile (dormant.go)
		if d := s.docs[doc]; d != nil {
			d.fed = false
			s.wakeDoc(d)
		}
	})
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	defer st.Close()
	r := bufio.NewReader(st)
	n := 0
	var batch []fedEntry
	for {
		b, err := netproto.ReadFrame(r, netproto.MaxFrame)
		if err == nil && !rate.Allow(doc, s.now()) {
			err = fmt.Errorf("%w: the feed is over its rate", ErrRateLimited)
		}
		var v fedEntry
		if err == nil {
			v, err = verifyFed(s.opts.sigs, doc, seqPub, b)
		}
		if err != nil {
			if len(batch) > 0 {
				s.postFed(doc, batch)
			}
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				s.stats.badStreams.Add(1)
				_ = st.Reset()
			}
			return n, err
		}
		n++
		batch = append(batch, v)
		if r.Buffered() == 0 || len(batch) >= feedBatch {
			s.postFed(doc, batch)
			batch = nil
		}
	}
}

// fedEntry is an entry from the feed, verified, with the bytes it came in.
type fedEntry struct {
	v    *docsync.SignedEntry
	wire fedBytes
}

// fedBytes are an entry's bytes as received and its fingerprint then
// (docsync.Entry.Fingerprint); empty when they are not to be stored as
// they came.
type fedBytes struct {
	b  []byte
	fp docsync.Hash
}

// verifyFed decodes one fed entry and checks its document and signatures
// (docsync.VerifyEntrySignatureIn). It keeps b to be stored as it came
// when b is the entry's canonical length (each field once, nothing else:
// a sequencer cannot pad what the clone stores). b becomes the entry's
// (docsync.DecodeEntryOwning): the caller must not change it.
func verifyFed(sigs *docsync.SigCache, doc docsync.DocID, seqPub, b []byte) (fedEntry, error) {
	e, err := docsync.DecodeEntryOwning(b)
	if err != nil {
		return fedEntry{}, err
	}
	if e.Head.Doc != doc || e.Envelope.Doc != doc {
		return fedEntry{}, docsync.ErrWrongDoc
	}
	v, err := docsync.VerifyEntrySignatureIn(sigs, e, seqPub)
	if err != nil {
		return fedEntry{}, err
	}
	f := fedEntry{v: v}
	if len(b) == e.WireSize() {
		f.wire = fedBytes{b: b, fp: e.Fingerprint()}
	}
	return f, nil
}

// postFed hands fed entries to the loop, in order.
func (s *Service) postFed(doc docsync.DocID, vs []fedEntry) {
	s.stats.feedEntries.Add(uint64(len(vs)))
	s.post(func() {
		for _, f := range vs {
			s.onSignedEntry(doc, f.v, f.wire)
		}
	})
}
