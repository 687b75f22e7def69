package docsync

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync/wire"
	"google.golang.org/protobuf/proto"
)

// The key schedule: which sequencer key signs which seqs, as (from seq,
// key) spans. A log replayed from seq 1 builds it from the moves it
// commits; one that starts from a snapshot or a checkpoint after a move
// cannot, so snapshots and checkpoints carry it. A snapshot's schedule is
// a stranger's claim until checked: every span after the first comes with
// its move entry (the admin-signed OpMove and the sequencer head that
// ordered it, with the chain hash before it), the first key must be the
// genesis key the joiner already knows, and each move must be signed by
// the key it hands over from (a handover) or the key it names (a
// takeover). So nobody can splice in a sequencer that no admin moved to.

// MaxMoves bounds the moves a schedule lists (a protocol limit: a
// document that moved more often cannot be snapshotted).
const MaxMoves = 1024

// NoteHead records the sequencer signature of a move's head in the span
// the move started: the schedule then carries the signed move. Replicas
// and sequencers call it for each entry they commit.
func (l *LogState) NoteHead(h Head) {
	sp := &l.spans[len(l.spans)-1]
	if sp.move != nil && sp.move.Head.Seq == h.Seq && sp.move.Head.ChainHash == h.ChainHash {
		sp.move.Head.Sig = append([]byte(nil), h.Sig...)
	}
}

// spansToWire encodes the schedule (nil while the genesis key signs
// everything, so logs that never moved encode as before).
func spansToWire(spans []keySpan) ([]*wire.SequencerSpan, error) {
	if len(spans) <= 1 {
		return nil, nil
	}
	out := make([]*wire.SequencerSpan, 0, len(spans))
	for i, sp := range spans {
		w := &wire.SequencerSpan{From: sp.from, Key: sp.key, Addr: sp.addr, Takeover: sp.takeover}
		if i > 0 && sp.move != nil && sp.move.Head.Sig != nil {
			b, err := sp.move.Marshal()
			if err != nil {
				return nil, err
			}
			w.Move, w.MovePrev = b, append([]byte(nil), sp.movePrev[:]...)
		}
		out = append(out, w)
	}
	return out, nil
}

// spansFromWire decodes a schedule of doc up to seq head and checks its
// shape; with proofs, also that each move justifies its span (the first
// key is checked by the caller, who knows the genesis key).
func spansFromWire(doc DocID, ws []*wire.SequencerSpan, head uint64, proofs bool) ([]keySpan, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: key schedule: "+format, append([]any{ErrMalformed}, a...)...)
	}
	if len(ws) == 0 {
		return nil, nil
	}
	if len(ws) > MaxMoves+1 {
		return nil, bad("%d spans", len(ws))
	}
	out := make([]keySpan, 0, len(ws))
	for i, w := range ws {
		if len(w.Key) != ed25519.PublicKeySize || len(w.Addr) > maxAddrBytes || !utf8.ValidString(w.Addr) {
			return nil, bad("span %d key or address", i)
		}
		sp := keySpan{from: w.From, key: append(ed25519.PublicKey(nil), w.Key...), addr: w.Addr, takeover: w.Takeover}
		if i == 0 {
			if sp.from != 1 || sp.takeover || sp.addr != "" || len(w.Move) > 0 {
				return nil, bad("the first span starts at %d", sp.from)
			}
			out = append(out, sp)
			continue
		}
		prev := out[i-1]
		if sp.from <= prev.from || sp.from > head+1 || bytes.Equal(sp.key, prev.key) {
			return nil, bad("span %d from %d after %d", i, sp.from, prev.from)
		}
		if len(w.Move) == 0 && !proofs {
			out = append(out, sp)
			continue
		}
		e, err := DecodeEntry(w.Move)
		if err != nil {
			return nil, bad("span %d move: %v", i, err)
		}
		if err := copy32((*[32]byte)(&sp.movePrev), w.MovePrev, "move prev hash"); err != nil {
			return nil, err
		}
		if err := checkMoveEntry(doc, prev.key, &sp, e); err != nil {
			return nil, bad("span %d: %v", i, err)
		}
		sp.move = e
		out = append(out, sp)
	}
	return out, nil
}

// checkMoveEntry checks that e is the signed move that starts span sp
// after a span signed by prevKey.
func checkMoveEntry(doc DocID, prevKey ed25519.PublicKey, sp *keySpan, e *Entry) error {
	op, ok := MoveOf(&e.Envelope)
	if !ok || e.Head.Doc != doc || e.Envelope.Doc != doc || op.Takeover != sp.takeover ||
		!bytes.Equal(op.Sequencer, sp.key) || op.SequencerAddr != sp.addr || op.Member != e.Envelope.Author {
		return fmt.Errorf("the entry is not the move to this key")
	}
	seq, signer := sp.from-1, prevKey
	if sp.takeover {
		seq, signer = sp.from, sp.key
		if e.Envelope.Parent != seq-1 || e.Envelope.ParentHash != sp.movePrev {
			return fmt.Errorf("takeover at %d does not continue from the seq before it", seq)
		}
	}
	if e.Head.Seq != seq || ChainHash(sp.movePrev, e.Envelope.Digest()) != e.Head.ChainHash {
		return fmt.Errorf("move entry at %d, want %d, or off the chain", e.Head.Seq, seq)
	}
	if err := e.Head.Verify(signer); err != nil {
		return err
	}
	return e.Envelope.VerifyAuthor()
}

// checkScheduleChain checks the moves inside l's window of chain hashes
// against it: a move's seq must hold the move's hash.
func (l *LogState) checkScheduleChain() error {
	for _, sp := range l.spans[1:] {
		if sp.move == nil {
			continue
		}
		h, ok := l.HashAt(sp.move.Head.Seq)
		if p, okp := l.HashAt(sp.move.Head.Seq - 1); (ok && h != sp.move.Head.ChainHash) || (okp && p != sp.movePrev) {
			return fmt.Errorf("%w: the move at seq %d is not on the chain", ErrSnapshotChain, sp.move.Head.Seq)
		}
	}
	return nil
}

// installSpans replaces l's schedule (nil: keep the genesis span).
func (l *LogState) installSpans(spans []keySpan) {
	if len(spans) == 0 {
		return
	}
	l.spans = spans
	l.sequencer = spans[len(spans)-1].key
}

// Schedule returns a copy of the key schedule (for a snapshot).
func (l *LogState) Schedule() []keySpan {
	if len(l.spans) <= 1 {
		return nil
	}
	return copySpans(l.spans)
}

func copySpans(spans []keySpan) []keySpan {
	if spans == nil {
		return nil
	}
	return append([]keySpan(nil), spans...)
}

// GenesisSequencer checks that e is doc's genesis entry (seq 1 on the
// genesis hash, signed by its author and by the sequencer key its genesis
// op names) and returns that key: where a schedule starts.
func GenesisSequencer(doc DocID, e *Entry) (ed25519.PublicKey, error) {
	env := &e.Envelope
	if e.Head.Doc != doc || env.Doc != doc || e.Head.Seq != 1 || env.Kind != KindMember {
		return nil, fmt.Errorf("%w: not the genesis entry of %v", ErrMalformed, doc)
	}
	op, err := DecodeMemberOp(env.Body)
	if err != nil || op.Type != OpGenesis {
		return nil, fmt.Errorf("%w: entry 1 is not a genesis", ErrMalformed)
	}
	if ChainHash(GenesisHash(doc), env.Digest()) != e.Head.ChainHash {
		return nil, fmt.Errorf("%w: genesis entry", ErrChainHash)
	}
	if err := e.Head.Verify(op.Sequencer); err != nil {
		return nil, err
	}
	if err := env.VerifyAuthor(); err != nil {
		return nil, err
	}
	return append(ed25519.PublicKey(nil), op.Sequencer...), nil
}

// MaxScheduleBytes caps an encoded KeySchedule.
const MaxScheduleBytes = 1 << 20

// Schedule is a document's key schedule on its own, as an invitation
// carries it: decoded only through DecodeSchedule, which checks every move.
type Schedule struct{ spans []keySpan }

// KeySchedule returns l's schedule (nil while the document never moved).
func (l *LogState) KeySchedule() *Schedule {
	if len(l.spans) <= 1 {
		return nil
	}
	return &Schedule{spans: copySpans(l.spans)}
}

// Marshal encodes the schedule with each move's signed entry.
func (s *Schedule) Marshal() ([]byte, error) {
	w, err := spansToWire(s.spans)
	if err != nil {
		return nil, err
	}
	for i, sp := range w[1:] {
		if len(sp.Move) == 0 {
			return nil, fmt.Errorf("%w: move %d of the schedule has no signed entry", ErrNotReady, i+1)
		}
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(&wire.KeySchedule{Spans: w})
}

// DecodeSchedule decodes doc's schedule up to seq upTo (bounded) and
// checks it: it starts with genesisKey and every later span is justified
// by its signed move.
func DecodeSchedule(doc DocID, b []byte, genesisKey ed25519.PublicKey, upTo uint64) (*Schedule, error) {
	var w wire.KeySchedule
	if err := unmarshal(b, MaxScheduleBytes, &w, "key schedule"); err != nil {
		return nil, err
	}
	if len(w.Spans) < 2 {
		return nil, fmt.Errorf("%w: a key schedule without a move", ErrMalformed)
	}
	spans, err := spansFromWire(doc, w.Spans, upTo, true)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(spans[0].key, genesisKey) {
		return nil, fmt.Errorf("%w: the key schedule starts with another sequencer", ErrSnapshotChain)
	}
	return &Schedule{spans: spans}, nil
}

// KeyAt returns the key that signs the head at seq.
func (s *Schedule) KeyAt(seq uint64) ed25519.PublicKey {
	key := s.spans[0].key
	for _, sp := range s.spans[1:] {
		if seq >= sp.from {
			key = sp.key
		}
	}
	return key
}

// Current returns the last span's key and address hint.
func (s *Schedule) Current() (ed25519.PublicKey, string) {
	sp := s.spans[len(s.spans)-1]
	return sp.key, sp.addr
}
