package docsync

import (
	"crypto/ed25519"
	"fmt"
)

// LogState is the verifiable state of a document's ordered log: seq, chain
// hashes, per-author counters and membership. The reference sequencer and
// every Replica run the same checks through it, so an honest sequencer never
// orders an envelope that honest clones would refuse.
type LogState struct {
	doc       DocID
	sequencer ed25519.PublicKey // the current sequencer (the last span's)
	spans     []keySpan         // which key signs which seqs (move.go)
	// hashes[i] = h(base+i): base is 0 (hashes[0] = GenesisHash) for a log
	// replayed from seq 1, the snapshot's window base for one joined from a
	// snapshot (snapshotlog.go).
	hashes   []Hash
	base     uint64
	counters map[MemberID]uint64
	members  *Membership
}

// NewLogState returns the empty log of doc ordered by the sequencer key seqPub.
func NewLogState(doc DocID, seqPub ed25519.PublicKey) *LogState {
	key := append(ed25519.PublicKey(nil), seqPub...)
	return &LogState{
		doc:       doc,
		sequencer: key,
		spans:     []keySpan{{from: 1, key: key}},
		hashes:    []Hash{GenesisHash(doc)},
		counters:  map[MemberID]uint64{},
		members:   newMembership(),
	}
}

// Doc returns the document ID.
func (l *LogState) Doc() DocID { return l.doc }

// Sequencer returns the current sequencer's public key (the genesis one
// until a move commits; KeyAt says who signed an earlier seq).
func (l *LogState) Sequencer() ed25519.PublicKey { return l.sequencer }

// Seq returns the last committed seq.
func (l *LogState) Seq() uint64 { return l.base + uint64(len(l.hashes)-1) }

// Base returns the oldest seq whose chain hash this log holds: 0 for a log
// replayed from seq 1; parents before it cannot be checked.
func (l *LogState) Base() uint64 { return l.base }

// HeadHash returns h(Seq()).
func (l *LogState) HeadHash() Hash { return l.hashes[len(l.hashes)-1] }

// HashAt returns h(seq) if seq is committed.
func (l *LogState) HashAt(seq uint64) (Hash, bool) {
	if seq < l.base || seq-l.base >= uint64(len(l.hashes)) {
		return Hash{}, false
	}
	return l.hashes[seq-l.base], true
}

// Membership returns the membership state (read-only for callers).
func (l *LogState) Membership() *Membership { return l.members }

// Counter returns the last committed counter of author.
func (l *LogState) Counter(author MemberID) uint64 { return l.counters[author] }

// Check runs every check that does not need the sequencer's signature on env
// as the next entry (seq Seq()+1): document, author signature, parent range,
// parent hash (fork*), membership, role and epoch, counter, membership-op
// validity. It returns the decoded membership op for KindMember envelopes.
func (l *LogState) Check(env *Envelope) (*MemberOp, error) { return l.CheckIn(env, nil) }

// CheckIn is Check with the signatures c remembers.
func (l *LogState) CheckIn(env *Envelope, c *SigCache) (*MemberOp, error) {
	seq := l.Seq() + 1
	if env.Doc != l.doc {
		return nil, fmt.Errorf("%w: envelope for %v", ErrWrongDoc, env.Doc)
	}
	if err := env.VerifyAuthorIn(c); err != nil {
		return nil, err
	}
	if env.Parent >= seq || seq-env.Parent > MaxParentLag {
		return nil, fmt.Errorf("%w: parent %d at seq %d", ErrParentRange, env.Parent, seq)
	}
	if env.Parent < l.base {
		return nil, fmt.Errorf("%w: parent %d is before the snapshot window (%d)", ErrParentRange, env.Parent, l.base)
	}
	if env.ParentHash != l.hashes[env.Parent-l.base] {
		return nil, fmt.Errorf("%w: at parent %d", ErrParentHash, env.Parent)
	}
	if err := l.members.checkEnvelope(env); err != nil {
		return nil, err
	}
	if last := l.counters[env.Author]; env.Counter <= last {
		return nil, fmt.Errorf("%w: %v counter %d after %d", ErrReplay, env.Author, env.Counter, last)
	}
	if env.Kind != KindMember {
		return nil, nil
	}
	op, err := DecodeMemberOp(env.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMemberOp, err)
	}
	if err := l.members.checkOp(env.Author, seq, l.sequencer, op); err != nil {
		return nil, err
	}
	if op.Type == OpMove && op.Takeover && env.Parent != seq-1 {
		return nil, fmt.Errorf("%w: a takeover must continue from the head before it (parent %d at seq %d)",
			ErrBadMemberOp, env.Parent, seq)
	}
	return op, nil
}

// Append commits a checked envelope as the next entry and returns its chain hash.
func (l *LogState) Append(env *Envelope, op *MemberOp) Hash {
	prev := l.HeadHash()
	h := ChainHash(prev, env.Digest())
	l.hashes = append(l.hashes, h)
	l.counters[env.Author] = env.Counter
	if op != nil {
		l.members.apply(op)
		if op.Type == OpMove {
			l.moveTo(env, op, prev)
		}
	}
	return h
}
