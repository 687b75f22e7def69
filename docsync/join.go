package docsync

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/wire"
	"google.golang.org/protobuf/proto"
)

var (
	// ErrSnapshotSignature: a snapshot's maker signature is invalid.
	ErrSnapshotSignature = errors.New("docsync: bad snapshot signature")
	// ErrSnapshotChain: a snapshot's window does not chain to its signed head.
	ErrSnapshotChain = errors.New("docsync: snapshot contradicts the chain")
	// ErrUntrustedSnapshot: a snapshot made by a member the joiner does not
	// already know (a stranger can list itself as a member of its own snapshot).
	ErrUntrustedSnapshot = errors.New("docsync: snapshot maker not trusted")
	// ErrSnapshotBody: a snapshot's body does not open or decode under the
	// epoch key (its maker signed garbage).
	ErrSnapshotBody = errors.New("docsync: snapshot body unusable")
)

// DefaultSnapshotWindow is how many seqs before its head a snapshot covers
// with chain hashes and committed ops by default: a tail entry whose parent
// is older than the window cannot be checked by a joiner.
const DefaultSnapshotWindow = 1024

// SealSnapshot makes a signed snapshot of the committed state at the last
// applied head, its body sealed under the current epoch key, covering up to
// window seqs before the head (at most what this replica still holds).
func (r *Replica) SealSnapshot(window int) (*SealedSnapshot, error) {
	if r.proof != nil {
		return nil, ErrHalted
	}
	seq, ms := r.log.Seq(), r.log.Membership()
	if seq == 0 || r.sealed != nil || len(r.locked) > 0 || r.Applied() != seq {
		return nil, fmt.Errorf("%w: no applied head to snapshot", ErrNotReady)
	}
	key, ok := r.keys[ms.Epoch()]
	if !ok {
		return nil, fmt.Errorf("%w: epoch %d", ErrNoEpochKey, ms.Epoch())
	}
	w := uint64(max(1, min(window, MaxSnapshotWindow)))
	oldest := max(r.opsBase, r.digestsBase, r.log.Base()+1) // first seq we hold all of
	w = min(w, seq-oldest+1)
	base := seq - w
	baseHash, _ := r.log.HashAt(base)
	head, _ := r.HeadAt(seq)
	m := metaOf(r.log)
	s := &SealedSnapshot{Maker: r.me, Head: head, Epoch: m.epoch, Members: m.members,
		Wraps: m.wraps, PrevKeys: m.prevKeys, Counters: m.counters,
		WindowBase: base, WindowBaseHash: baseHash,
		WindowDigests: append([]Hash(nil), r.digests[base+1-r.digestsBase:]...),
		spans:         r.log.Schedule()}
	body := &wire.SnapshotBody{Text: r.committed.String()}
	for q := base + 1; q <= seq; q++ {
		var b []byte
		if op := r.opAt(q); op != nil {
			var err error
			if b, err = op.MarshalBinary(); err != nil {
				return nil, err
			}
		}
		body.WindowOps = append(body.WindowOps, b)
	}
	pt, err := proto.Marshal(body)
	if err != nil {
		return nil, err
	}
	s.Nonce = make([]byte, NonceSize)
	if _, err := r.cfg.Rand.Read(s.Nonce); err != nil {
		return nil, fmt.Errorf("docsync: nonce: %w", err)
	}
	if s.Body, err = sealAEAD(key, s.Nonce, bodyAAD(s.Head, s.Epoch, s.Maker), pt); err != nil {
		return nil, err
	}
	if err := s.sign(r.cfg.Identity.Sign); err != nil {
		return nil, err
	}
	return s, nil
}

// Join returns a replica that continues from a snapshot instead of replaying
// from seq 1: entries after the snapshot's seq are handed to it as usual.
// The snapshot is verified against the chain (Verify) and its maker must be
// one trusted says the joiner already knows as a member (the admin who
// invited it; for a clone that was offline, a member of its own last state).
// When the joiner is not a member at the snapshot's seq yet (added later in
// the tail), the body stays sealed, and the tail's entries wait as locked
// content, until the tail's membership ops wrap a key to it.
func Join(cfg Config, s *SealedSnapshot, trusted func(MemberID) bool) (*Replica, error) {
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Verify(cfg.Doc, cfg.Sequencer); err != nil {
		return nil, err
	}
	if trusted == nil || !trusted(s.Maker) {
		return nil, fmt.Errorf("%w: %v", ErrUntrustedSnapshot, s.Maker)
	}
	if r.log, err = logFromSnapshot(s, cfg.Sequencer); err != nil {
		return nil, err
	}
	r.sigs = make([][]byte, s.Head.Seq-s.WindowBase+1)
	r.sigs[len(r.sigs)-1] = s.Head.Sig
	r.digests, r.digestsBase = append([]Hash(nil), s.WindowDigests...), s.WindowBase+1
	r.counter = r.log.Counter(r.me)
	r.ops, r.opAuthors, r.opsBase = nil, nil, s.Head.Seq+1 // Applied() = the snapshot's seq; the window comes with the body
	r.sealed = s
	if ct, ok := s.Wraps[r.me]; ok {
		k, err := unwrapKey(cfg.Doc, s.Epoch, cfg.Identity, ct)
		if err != nil {
			return nil, err
		}
		r.keys[s.Epoch] = k
		r.unchainKeys(s.Epoch)
		if err := r.openSealed(); err != nil {
			return nil, err
		}
	}
	h := s.Head
	r.ready.Head = &h
	return r, nil
}

// openSealed opens the joined snapshot's body once this replica holds its
// epoch key: the text becomes the committed text and the window ops the
// ops that tail entries are transformed against.
func (r *Replica) openSealed() error {
	s := r.sealed
	key, ok := r.keys[s.Epoch]
	if !ok {
		return nil
	}
	pt, err := openAEAD(key, s.Nonce, bodyAAD(s.Head, s.Epoch, s.Maker), s.Body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshotBody, err)
	}
	var b wire.SnapshotBody
	if err := unmarshal(pt, MaxSnapshotBytes, &b, "snapshot body"); err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshotBody, err)
	}
	if !utf8.ValidString(b.Text) || uint64(len(b.WindowOps)) != s.Head.Seq-s.WindowBase {
		return fmt.Errorf("%w: text or %d window ops", ErrSnapshotBody, len(b.WindowOps))
	}
	ops := make([]*ot.Op, len(b.WindowOps))
	for i, ob := range b.WindowOps {
		if len(ob) == 0 {
			continue
		}
		op, err := ot.Decode(ob)
		if err != nil {
			return fmt.Errorf("%w: window op %d: %w", ErrSnapshotBody, i, err)
		}
		ops[i] = &op
	}
	r.committed = ot.NewDoc(b.Text)
	r.local = r.committed.Clone() // a copy of the decoded code points, not a second decoding
	// The window's authors are not in the snapshot: a caret at a window
	// op's insert stays before it (presencepos.go).
	r.ops, r.opAuthors, r.opsBase = ops, make([]MemberID, len(ops)), s.WindowBase+1
	r.sealed = nil
	return nil
}

// RestoreFromSnapshot is Restore for a clone whose log was compacted: it
// continues from the snapshot it verified and kept, then the entries after
// it (in seq order) and the last Pending.
func RestoreFromSnapshot(cfg Config, s *SealedSnapshot, entries []*Entry, p *Pending) (*Replica, error) {
	r, err := Join(cfg, s, func(MemberID) bool { return true }) // verified before it was kept
	if err != nil {
		return nil, fmt.Errorf("docsync: restore from snapshot at %d: %w", s.Head.Seq, err)
	}
	r.ready = Ready{}
	return r.restoreOnto(entries, p)
}

// LogFromSnapshot is the log state at the head of snapshot s of a
// document whose genesis sequencer key is seqPub, once s verifies: what a
// sequencer adopting a compacted document starts from.
func LogFromSnapshot(s *SealedSnapshot, seqPub ed25519.PublicKey) (*LogState, error) {
	if err := s.Verify(s.Head.Doc, seqPub); err != nil {
		return nil, err
	}
	return logFromSnapshot(s, seqPub)
}

// logFromSnapshot is the log state at a verified snapshot's head.
func logFromSnapshot(s *SealedSnapshot, seqPub []byte) (*LogState, error) {
	l := NewLogState(s.Head.Doc, seqPub)
	l.base = s.WindowBase
	if len(s.chain) == len(s.WindowDigests)+1 {
		l.hashes = s.chain // computed by Verify, which every caller ran
	} else {
		l.hashes = make([]Hash, 1, len(s.WindowDigests)+1)
		l.hashes[0] = s.WindowBaseHash
		for _, d := range s.WindowDigests {
			l.hashes = append(l.hashes, ChainHash(l.HeadHash(), d))
		}
	}
	logMeta{epoch: s.Epoch, members: s.Members, wraps: s.Wraps, prevKeys: s.PrevKeys, counters: s.Counters}.install(l)
	l.installSpans(copySpans(s.spans))
	if err := l.checkScheduleChain(); err != nil {
		return nil, err
	}
	return l, nil
}
