package docsync

import "errors"

// forgeWindow bounds how far back reject looks for the head a forged seq
// was chained from: a few hash computations per rejected entry, no more.
const forgeWindow = 64

// reject reports a failed entry and, when the failure is the sequencer's
// provable doing, the evidence of it. e's sequencer signature was verified
// (by handleEntry or a topic validator) before commit ran its checks.
func (r *Replica) reject(e *Entry, err error) {
	r.event(Event{Kind: EventRejected, Seq: e.Head.Seq, Err: err})
	if ev := r.evidenceFor(e, err); ev != nil {
		r.event(Event{Kind: EventEvidence, Seq: e.Head.Seq, Err: err, Evidence: ev})
	}
}

// evidenceFor builds the proof that e's failure is the sequencer's, if it
// is: an envelope failing its author's signature chained after our head
// (tamper), or an entry chained directly from an earlier head than the one
// before its seq (forged seq). A wrong chain hash alone proves nothing:
// the sequencer signs only (doc, seq, chain hash), so anyone can pair its
// head with another envelope.
func (r *Replica) evidenceFor(e *Entry, err error) *Evidence {
	s := e.Head.Seq
	if s == 0 || s != r.log.Seq()+1 {
		return nil
	}
	d := e.Envelope.Digest()
	ev := &Evidence{Sequencer: append([]byte(nil), r.log.KeyAt(s)...), B: e.Head, Envelope: &e.Envelope}
	switch {
	case errors.Is(err, ErrAuthorSignature):
		a, ok := r.headOrGenesis(s - 1)
		if !ok || ChainHash(a.ChainHash, d) != e.Head.ChainHash {
			return nil
		}
		ev.Kind, ev.A = EvidenceTamper, a
	case errors.Is(err, ErrChainHash):
		for k := int64(s) - 2; k >= 0 && k >= int64(s)-1-forgeWindow; k-- {
			a, ok := r.headOrGenesis(uint64(k))
			if ok && ChainHash(a.ChainHash, d) == e.Head.ChainHash {
				ev.Kind, ev.A = EvidenceForgedSeq, a
				break
			}
		}
		if ev.Kind == 0 {
			return nil
		}
	default:
		return nil
	}
	env := *ev.Envelope
	ev.Envelope = &env
	return ev
}

// headOrGenesis is HeadAt, with the (unsigned) genesis head at seq 0.
func (r *Replica) headOrGenesis(seq uint64) (Head, bool) {
	if seq == 0 {
		return Head{Doc: r.cfg.Doc, ChainHash: GenesisHash(r.cfg.Doc)}, true
	}
	return r.HeadAt(seq)
}
