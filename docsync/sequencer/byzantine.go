package sequencer

import (
	"crypto/ed25519"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
)

// Behaviour is one way a Byzantine sequencer misbehaves.
type Behaviour uint8

const (
	// Equivocate forks the log: from seq At the Victims get a branch without the entry at At.
	Equivocate Behaviour = iota + 1
	// Drop withholds the entry at seq At from everyone, also on fetch.
	Drop
	// Reorder republishes entries At and At+1 swapped, re-chained and re-signed.
	Reorder
	// Duplicate orders the envelope at At a second time at At+1.
	Duplicate
	// Replay orders an old, already committed envelope again after At.
	Replay
	// Tamper flips a ciphertext byte of the envelope at At and re-chains and re-signs it.
	Tamper
	// ForgeSeq publishes the envelope at At under seq At+1 (chained from At-1),
	// then gives seq At to the next envelope.
	ForgeSeq
)

// Behaviours lists every Behaviour.
var Behaviours = []Behaviour{Equivocate, Drop, Reorder, Duplicate, Replay, Tamper, ForgeSeq}

func (b Behaviour) String() string {
	names := [...]string{"?", "equivocate", "drop", "reorder", "duplicate", "replay", "tamper", "forge-seq"}
	if int(b) < len(names) {
		return names[b]
	}
	return fmt.Sprintf("behaviour(%d)", uint8(b))
}

// rawLog is a signed hash chain with no checks: the Byzantine sequencer's
// own view of what it published.
type rawLog struct {
	doc     docsync.DocID
	key     ed25519.PrivateKey
	entries []*docsync.Entry
}

func (l *rawLog) head() docsync.Hash {
	if len(l.entries) == 0 {
		return docsync.GenesisHash(l.doc)
	}
	return l.entries[len(l.entries)-1].Head.ChainHash
}

// sign builds a signed entry for env at seq chained after prev.
func sign(doc docsync.DocID, key ed25519.PrivateKey, seq uint64, prev docsync.Hash, env *docsync.Envelope) *docsync.Entry {
	e := &docsync.Entry{Head: docsync.Head{Doc: doc, Seq: seq, ChainHash: docsync.ChainHash(prev, env.Digest())}, Envelope: *env}
	e.Head.Sign(key)
	return e
}

func (l *rawLog) append(env *docsync.Envelope) *docsync.Entry {
	e := sign(l.doc, l.key, uint64(len(l.entries))+1, l.head(), env)
	l.entries = append(l.entries, e)
	return e
}

// Byzantine is a sequencer that behaves honestly until seq At and then
// misbehaves once (or, for Equivocate, from then on) as Behaviour says. It
// still refuses envelopes the reference would refuse, so every misbehaviour
// is its own.
type Byzantine struct {
	Behaviour Behaviour
	At        uint64
	// Victims is the second group of an Equivocate fork.
	Victims func(docsync.MemberID) bool
	// Forged lists the entries it published that no honest sequencer would
	// (tampered, duplicated, replayed, forged, reordered or forked ones).
	Forged []*docsync.Entry

	key    ed25519.PrivateKey
	check  *Reference
	main   *rawLog
	fork   *rawLog // Equivocate: the Victims' branch
	done   bool
	skipAt bool
}

// NewByzantine returns a Byzantine sequencer of doc.
func NewByzantine(doc docsync.DocID, key ed25519.PrivateKey, b Behaviour, at uint64) *Byzantine {
	if at < 2 {
		at = 2
	}
	return &Byzantine{Behaviour: b, At: at, key: key, check: NewReference(doc, key),
		main: &rawLog{doc: doc, key: key}, fork: &rawLog{doc: doc, key: key},
		Victims: func(docsync.MemberID) bool { return false }}
}

func (s *Byzantine) victim(m docsync.MemberID) bool { return s.Victims(m) }
func (s *Byzantine) other(m docsync.MemberID) bool  { return !s.Victims(m) }

func (s *Byzantine) forge(e *docsync.Entry) *docsync.Entry {
	s.Forged = append(s.Forged, e)
	return e
}

// Submit orders env, misbehaving as configured.
func (s *Byzantine) Submit(env *docsync.Envelope) []Delivery {
	if _, err := s.check.Order(env); err != nil {
		return nil
	}
	next := uint64(len(s.main.entries)) + 1
	if s.done || next < s.At {
		out := []Delivery{{Entry: s.main.append(env)}}
		if s.Behaviour == Equivocate {
			s.fork.append(env)
		}
		return out
	}
	switch s.Behaviour {
	case Equivocate:
		out := []Delivery{{To: s.other, Entry: s.main.append(env)}}
		if !s.skipAt {
			s.skipAt = true // the Victims' branch never sees this envelope
			return out
		}
		return append(out, Delivery{To: s.victim, Entry: s.forge(s.fork.append(env))})
	case Drop:
		s.done = true
		s.main.append(env) // recorded, never published or served
		return nil
	case Reorder:
		if next < s.At+1 {
			return []Delivery{{Entry: s.main.append(env)}}
		}
		s.done = true
		out := []Delivery{{Entry: s.main.append(env)}}
		a, b := s.main.entries[s.At-1], s.main.entries[s.At]
		prev := s.main.entries[s.At-2].Head.ChainHash
		b2 := s.forge(sign(s.main.doc, s.key, s.At, prev, &b.Envelope))
		a2 := s.forge(sign(s.main.doc, s.key, s.At+1, b2.Head.ChainHash, &a.Envelope))
		return append(out, Delivery{Entry: b2}, Delivery{Entry: a2})
	case Duplicate:
		s.done = true
		e := s.main.append(env)
		return []Delivery{{Entry: e}, {Entry: s.forge(s.main.append(env))}}
	case Replay:
		s.done = true
		e := s.main.append(env)
		old := s.oldestEdit()
		if old == nil {
			s.done = false
			return []Delivery{{Entry: e}}
		}
		return []Delivery{{Entry: e}, {Entry: s.forge(s.main.append(old))}}
	case Tamper:
		s.done = true
		t := *env
		t.Body = append([]byte(nil), env.Body...)
		if len(t.Body) > 0 {
			t.Body[len(t.Body)-1] ^= 0x01
		} else {
			t.Counter++
		}
		return []Delivery{{Entry: s.forge(s.main.append(&t))}}
	case ForgeSeq:
		s.done = true
		return []Delivery{{Entry: s.forge(sign(s.main.doc, s.key, next+1, s.main.head(), env))}}
	}
	return []Delivery{{Entry: s.main.append(env)}}
}

func (s *Byzantine) oldestEdit() *docsync.Envelope {
	for _, e := range s.main.entries {
		if e.Envelope.Kind == docsync.KindEdit {
			return &e.Envelope
		}
	}
	return nil
}

func (s *Byzantine) logOf(who docsync.MemberID) *rawLog {
	if s.Behaviour == Equivocate && s.victim(who) {
		return s.fork
	}
	return s.main
}

// Fetch serves the requester's view of the log (without a dropped entry).
func (s *Byzantine) Fetch(who docsync.MemberID, from, to uint64) []*docsync.Entry {
	out := rangeOf(s.logOf(who).entries, from, to)
	if s.Behaviour == Drop && s.done {
		kept := out[:0]
		for _, e := range out {
			if e.Head.Seq != s.At {
				kept = append(kept, e)
			}
		}
		out = kept
	}
	return out
}

// Head returns the signed head of the requester's view.
func (s *Byzantine) Head(who docsync.MemberID) docsync.Head {
	l := s.logOf(who)
	h := docsync.Head{Doc: l.doc, Seq: uint64(len(l.entries)), ChainHash: l.head()}
	h.Sign(s.key)
	return h
}

// Main returns its main log: every entry it recorded, whoever it showed
// them to (shared, do not modify).
func (s *Byzantine) Main() []*docsync.Entry { return s.main.entries }

// Checked is the log state of the envelopes it accepted, as the Reference
// sequencer it checks them with sees them.
func (s *Byzantine) Checked() *docsync.LogState { return s.check.Log() }

// Restore re-records an entry of its main log after a restart or from a
// history it adopts. An equivocation's second branch shares the entries
// before At (an adopted history is all before it when At lies beyond it);
// the branch's own entries after At are not restored.
func (s *Byzantine) Restore(e *docsync.Entry) error {
	if e.Head.Seq != uint64(len(s.main.entries))+1 {
		return fmt.Errorf("sequencer: restore seq %d after %d: %w", e.Head.Seq, len(s.main.entries), docsync.ErrGap)
	}
	// An adopted history was signed by earlier sequencers: Restore learns
	// their keys. A forged entry of its own may not pass: it was recorded
	// anyway.
	if s.check.Restore(e) != nil {
		_, _ = s.check.Order(&e.Envelope)
	}
	s.main.entries = append(s.main.entries, e)
	if s.Behaviour == Equivocate && e.Head.Seq < s.At && len(s.fork.entries) == len(s.main.entries)-1 {
		s.fork.entries = append(s.fork.entries, e)
	}
	return nil
}
