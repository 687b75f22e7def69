package sequencer

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
)

// Adopt returns the sequencer, signing with key, of a document that moves
// to it: entries is the log 1..S that a member of the document hands
// over. The chain is checked end to end (every envelope by the rules it
// was ordered under, every chain hash) and the last head against the key
// that signed it, which commits that sequencer to all of it. After a
// handover (entries end with the move to key) the result orders from S+1;
// otherwise it orders only the takeover that moves the document to key.
func Adopt(doc docsync.DocID, key ed25519.PrivateKey, entries []*docsync.Entry) (*Reference, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("sequencer: adopt: no history")
	}
	s := NewReference(doc, key)
	for _, e := range entries {
		if e.Head.Doc != doc {
			return nil, fmt.Errorf("sequencer: adopt: %w", docsync.ErrWrongDoc)
		}
		if err := s.Restore(e); err != nil {
			return nil, fmt.Errorf("sequencer: adopt: %w", err)
		}
	}
	last := entries[len(entries)-1].Head
	if err := last.Verify(s.log.KeyAt(last.Seq)); err != nil {
		return nil, fmt.Errorf("sequencer: adopt: head %d: %w", last.Seq, err)
	}
	return s, nil
}

// genesisKey makes the log start from the key the genesis entry e names,
// when the document was created on another sequencer and moved here.
func (s *Reference) genesisKey(e *docsync.Entry) {
	if e.Head.Seq != 1 || s.log.Seq() != 0 {
		return
	}
	op, err := docsync.DecodeMemberOp(e.Envelope.Body)
	if err == nil && e.Envelope.Kind == docsync.KindMember && op.Type == docsync.OpGenesis &&
		!bytes.Equal(op.Sequencer, s.log.Sequencer()) {
		s.log = docsync.NewLogState(s.log.Doc(), op.Sequencer)
	}
}

// ordersFor checks that this sequencer may order env now: the log is on
// its key, or env is the takeover that moves it here.
func (s *Reference) ordersFor(env *docsync.Envelope) error {
	pub := s.key.Public().(ed25519.PublicKey)
	mine := bytes.Equal(s.log.Sequencer(), pub)
	op, isMove := docsync.MoveOf(env)
	switch {
	case mine && isMove && op.Takeover:
		return fmt.Errorf("%w: a takeover is ordered by the sequencer it names", docsync.ErrBadMemberOp)
	case mine:
		return nil
	case isMove && op.Takeover && bytes.Equal(op.Sequencer, pub):
		return nil
	}
	return docsync.ErrMoved
}

// NewMemoryFrom returns the in-memory sequencer of an adopted log.
func NewMemoryFrom(ref *Reference, entries []*docsync.Entry) *Memory {
	return &Memory{Reference: ref, entries: append([]*docsync.Entry(nil), entries...)}
}
