// Package sequencer holds the CloneDoc sequencers as pure state machines: the
// Reference sequencer that the network sequencer service wraps, and a
// Byzantine one for tests that misbehaves in every way the clones must detect.
package sequencer

import (
	"crypto/ed25519"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
)

// Reference is the honest sequencer of one document. It validates what it
// can see (author signature, membership metadata, counters, parent hash,
// size), assigns seq n+1, extends the hash chain and signs (doc, seq, hash).
// It never sees plaintext. It keeps no log: the caller persists the entries.
type Reference struct {
	key ed25519.PrivateKey
	log *docsync.LogState
}

// NewReference returns the sequencer of doc signing with key.
func NewReference(doc docsync.DocID, key ed25519.PrivateKey) *Reference {
	return &Reference{key: key, log: docsync.NewLogState(doc, key.Public().(ed25519.PublicKey))}
}

// Order validates env and orders it as the next entry. A rejected envelope
// leaves the state unchanged.
func (s *Reference) Order(env *docsync.Envelope) (*docsync.Entry, error) {
	if err := s.ordersFor(env); err != nil {
		return nil, fmt.Errorf("sequencer: reject: %w", err)
	}
	op, err := s.log.Check(env)
	if err != nil {
		return nil, fmt.Errorf("sequencer: reject: %w", err)
	}
	h := s.log.Append(env, op)
	e := &docsync.Entry{Head: docsync.Head{Doc: s.log.Doc(), Seq: s.log.Seq(), ChainHash: h}, Envelope: *env}
	e.Head.Sign(s.key)
	s.log.NoteHead(e.Head)
	return e, nil
}

// Restore re-applies persisted entries (e.g. after a restart). Each must be
// the next seq and pass the same checks as when it was ordered.
func (s *Reference) Restore(e *docsync.Entry) error {
	if e.Head.Seq != s.log.Seq()+1 {
		return fmt.Errorf("sequencer: restore seq %d after %d: %w", e.Head.Seq, s.log.Seq(), docsync.ErrGap)
	}
	s.genesisKey(e)
	op, err := s.log.Check(&e.Envelope)
	if err != nil {
		return fmt.Errorf("sequencer: restore: %w", err)
	}
	// Compare before appending: a refused entry must leave the log as it was.
	if h := docsync.ChainHash(s.log.HeadHash(), e.Envelope.Digest()); h != e.Head.ChainHash {
		return fmt.Errorf("sequencer: restore seq %d: %w", e.Head.Seq, docsync.ErrChainHash)
	}
	s.log.Append(&e.Envelope, op)
	s.log.NoteHead(e.Head)
	return nil
}

// Head returns the signed head of the log (Seq 0 before the first entry).
func (s *Reference) Head() docsync.Head {
	h := docsync.Head{Doc: s.log.Doc(), Seq: s.log.Seq(), ChainHash: s.log.HeadHash()}
	h.Sign(s.key)
	return h
}

// Log exposes the validated log state (read-only).
func (s *Reference) Log() *docsync.LogState { return s.log }

// RestoreCheckpoint starts the log from a checkpoint of this sequencer's
// own log state (docsync.LogState.Checkpoint): a sequencer that compacted
// its log restarts from it, then Restore the entries after it.
func (s *Reference) RestoreCheckpoint(l *docsync.LogState) error {
	if s.log.Seq() != 0 || l.Doc() != s.log.Doc() {
		return fmt.Errorf("sequencer: checkpoint of %v at %d onto a log at %d", l.Doc(), l.Seq(), s.log.Seq())
	}
	s.log = l
	return nil
}
