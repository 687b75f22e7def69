package cloneservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/clone2clone/c2c/docsync"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrNoEvidence: the document holds no evidence of the kind asked for.
var ErrNoEvidence = errors.New("cloneservice: no evidence against the sequencer")

// evidenceKey is where evidence of kind k against the sequencer key seq
// is kept: one per kind and sequencer, so that evidence against a
// sequencer the document recovered from stays when the next one
// misbehaves too.
func evidenceKey(doc docsync.DocID, k docsync.EvidenceKind, seq []byte) datastore.Key {
	return datastore.NewKey(fmt.Sprintf("%s/evidence/%d/%x", docPrefix(doc), k, seq))
}

// maxKeptEvidence bounds the evidence a document keeps: one per kind and
// sequencer, and a document is on at most MaxMoves+1 sequencers.
const maxKeptEvidence = 3 * (docsync.MaxMoves + 1)

// loadEvidence reads a document's kept tamper and forged-seq evidence
// (verified before it was written; verified again here, since the disk is
// data too).
func loadEvidence(ctx context.Context, ds datastore.Datastore, doc docsync.DocID) ([]*docsync.Evidence, error) {
	res, err := ds.Query(ctx, query.Query{Prefix: docPrefix(doc) + "/evidence"})
	if err != nil {
		return nil, err
	}
	rs, err := res.Rest()
	if err != nil {
		return nil, err
	}
	if len(rs) > maxKeptEvidence {
		return nil, fmt.Errorf("%d evidence records, more than the %d a document can keep", len(rs), maxKeptEvidence)
	}
	var out []*docsync.Evidence
	for _, r := range rs {
		ev, err := docsync.DecodeEvidence(r.Value)
		if err == nil {
			// Against whichever sequencer the document was on at the
			// seq (it may have moved since): evidence that verifies
			// proves a sequencer of the document misbehaved.
			err = ev.Verify()
		}
		if err != nil {
			return nil, fmt.Errorf("evidence %s: %w", r.Key, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// hasEvidence reports whether d keeps evidence of kind k against the
// sequencer it is on.
func (d *docState) hasEvidence(k docsync.EvidenceKind) bool {
	cur := d.r.Log().Sequencer()
	return slices.ContainsFunc(d.evidence, func(ev *docsync.Evidence) bool {
		return ev.Kind == k && bytes.Equal(ev.Sequencer, cur)
	})
}

// newEvidence picks from rd the evidence of kinds d does not keep yet, one
// per kind.
func newEvidence(d *docState, rd *docsync.Ready) []*docsync.Evidence {
	var out []*docsync.Evidence
	for _, ev := range rd.Events {
		if ev.Kind != docsync.EventEvidence || ev.Evidence == nil || d.hasEvidence(ev.Evidence.Kind) ||
			slices.ContainsFunc(out, func(o *docsync.Evidence) bool { return o.Kind == ev.Evidence.Kind }) {
			continue
		}
		out = append(out, ev.Evidence)
	}
	return out
}

// putEvidence adds evs to a batch.
func (s *Service) putEvidence(b datastore.Batch, doc docsync.DocID, evs []*docsync.Evidence) error {
	for _, ev := range evs {
		raw, err := ev.Marshal()
		if err != nil {
			return err
		}
		if err := b.Put(s.ctx, evidenceKey(doc, ev.Kind, ev.Sequencer), raw); err != nil {
			return err
		}
	}
	return nil
}

// misbehaved raises the alarm for evidence that is on disk already: log,
// metric, event, stop the document, gossip the evidence (loop only).
func (s *Service) misbehaved(d *docState, ev *docsync.Evidence) {
	if d.hasEvidence(ev.Kind) {
		return
	}
	d.evidence = append(d.evidence, ev)
	s.stats.evidence.Add(1)
	s.log.Error("SEQUENCER MISBEHAVED: evidence kept; document stopped",
		"doc", d.id, "kind", ev.Kind, "seq", ev.B.Seq, "sequencer", d.seqPeer)
	s.emit(d, Event{Kind: EventMisbehaviour, Seq: ev.B.Seq, Evidence: ev,
		Err: fmt.Errorf("%w: %v", ErrMisbehaved, ev.Kind)})
	s.stopObservers(d, fmt.Errorf("cloneservice: the sequencer misbehaved (%v): %w", ev.Kind, docsync.ErrHalted))
	s.gossipEvidence(d, ev)
}

// ErrMisbehaved: the sequencer provably misbehaved (tamper or forged seq);
// the document stopped. Evidence says how.
var ErrMisbehaved = errors.New("cloneservice: the sequencer misbehaved")

// gossipEvidence publishes ev on the heads topic, where every member
// verifies it before it keeps or forwards it (validateHead).
func (s *Service) gossipEvidence(d *docState, ev *docsync.Evidence) {
	raw, err := ev.Marshal()
	if err != nil {
		return
	}
	t := d.headsOut
	s.goDo(func(ctx context.Context) { _ = t.Publish(ctx, raw) })
}

// validateEvidence checks evidence gossiped on the heads topic: from a
// peer within its rate, small enough, well formed, about this document
// and proving misbehaviour by this document's sequencer. What fails is
// rejected (the sender's score drops) and never forwarded.
func (s *Service) validateEvidence(doc docsync.DocID, seqPub []byte, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	if !s.evidenceRate.Allow(from, s.now()) {
		s.refusals.Refuse(from.String(), "evidence_rate", nil)
		return pubsub.ValidationIgnore
	}
	ev, err := docsync.DecodeEvidence(m.Data)
	if err == nil && ev.Doc() != doc {
		err = docsync.ErrWrongDoc
	}
	if err == nil {
		err = ev.VerifyFor(seqPub)
	}
	return s.verdict("evidence message", doc, from, m, ev, err)
}

// onEvidence takes verified evidence from a member (loop only). A fork's
// two heads go to the replica, which finds the fork itself; other kinds
// are written, synced, and only then alarmed. Evidence of a kind the
// document keeps already is a duplicate and ignored.
func (s *Service) onEvidence(doc docsync.DocID, ev *docsync.Evidence) {
	d := s.docs[doc]
	if d == nil || d.broken != nil || d.hasEvidence(ev.Kind) {
		return
	}
	if ev.Kind == docsync.EvidenceFork {
		if d.proof == nil || d.misbehaved() == nil {
			_ = d.r.HandleHead(ev.A)
			_ = d.r.HandleHead(ev.B)
			s.markDirty(d)
		}
		return
	}
	b, err := s.ds.Batch(s.ctx)
	if err == nil {
		err = s.putEvidence(b, doc, []*docsync.Evidence{ev})
	}
	if err == nil {
		err = b.Commit(s.ctx)
	}
	if err == nil {
		err = s.ds.Sync(s.ctx, docKey(doc))
	}
	if err != nil {
		s.log.Error("cannot keep evidence", "doc", doc, "err", err)
		return
	}
	s.misbehaved(d, ev)
}

// Evidence returns what this clone keeps against the document's
// sequencers, the one it is on and those it recovered from: every fork
// proof as EvidenceFork (one per sequencer, the one against the
// sequencer the document is on first), then tamper and forged-seq
// evidence. Each verifies with docsync.Evidence.Verify.
func (s *Service) Evidence(doc docsync.DocID) ([]*docsync.Evidence, error) {
	var out []*docsync.Evidence
	err := s.view(doc, func(d *docState) {
		out = append(out, d.forks...)
		cur := d.r.Log().Sequencer()
		slices.SortStableFunc(out, func(a, b *docsync.Evidence) int {
			return boolRank(!bytes.Equal(a.Sequencer, cur)) - boolRank(!bytes.Equal(b.Sequencer, cur))
		})
		out = append(out, d.evidence...)
	})
	return out, err
}

// boolRank orders false before true.
func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// signerOf returns the key that signed p's heads: the genesis sequencer's
// or one the document moved to (nil if none does).
func (d *docState) signerOf(p *docsync.ForkProof) []byte {
	keys := [][]byte{d.meta.Sequencer}
	for _, m := range d.r.Log().Moves() {
		keys = append(keys, m.Sequencer)
	}
	for _, k := range keys {
		if p.A.Verify(k) == nil {
			return k
		}
	}
	return nil
}

// forkEvidence is p as Evidence against the sequencer that signed it.
func (d *docState) forkEvidence(p *docsync.ForkProof) *docsync.Evidence {
	key := d.signerOf(p)
	if key == nil {
		key = d.r.Log().KeyAt(p.A.Seq)
	}
	return docsync.EvidenceFromFork(p, key)
}

// keepFork adds ev to forks unless a proof against its sequencer is kept
// already (the first found stays: it is the one on disk).
func keepFork(forks []*docsync.Evidence, ev *docsync.Evidence) []*docsync.Evidence {
	if slices.ContainsFunc(forks, func(f *docsync.Evidence) bool { return bytes.Equal(f.Sequencer, ev.Sequencer) }) {
		return forks
	}
	return append(forks, ev)
}

// restoreEvidence takes what a document left on disk: fork proofs kept per
// sequencer, the single /fork proof older versions wrote (kept as the
// proof against whichever sequencer signed it), and tamper and forged-seq
// evidence. The document stays stopped if a proof implicates the
// sequencer it is on.
func (d *docState) restoreEvidence(st *stored) {
	for _, ev := range st.evidence {
		if ev.Kind == docsync.EvidenceFork {
			d.forks = keepFork(d.forks, ev)
		} else {
			d.evidence = append(d.evidence, ev)
		}
	}
	if st.proof != nil {
		d.forks = keepFork(d.forks, d.forkEvidence(st.proof))
	}
	cur := d.r.Log().Sequencer()
	for _, f := range d.forks {
		if d.proof == nil || bytes.Equal(f.Sequencer, cur) {
			d.proof = &docsync.ForkProof{A: f.A, B: f.B}
		}
	}
}
