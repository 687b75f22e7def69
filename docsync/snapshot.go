package docsync

import (
	"bytes"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync/wire"
	"github.com/clone2clone/c2c/internal/intern"
	"google.golang.org/protobuf/proto"
)

// Snapshot is the plaintext state of a document at a sequencer-signed head:
// what a device pulls when a snapshot is smaller than the bundle of missed
// edits. It holds no keys; encrypt it before it leaves the clone.
type Snapshot struct {
	Head     Head
	Text     string
	Epoch    uint64
	Members  []Member
	Counters map[MemberID]uint64
}

// Snapshot returns the committed state at the last applied head.
func (r *Replica) Snapshot() (*Snapshot, error) {
	h, ok := r.HeadAt(r.Applied())
	if !ok || r.Applied() != r.log.Seq() || r.sealed != nil {
		return nil, fmt.Errorf("%w: no applied head to snapshot", ErrNotReady)
	}
	s := &Snapshot{Head: h, Text: r.committed.String(), Epoch: r.log.Membership().Epoch(),
		Members: r.log.Membership().Members(), Counters: map[MemberID]uint64{}}
	for m, c := range r.log.counters {
		s.Counters[m] = c
	}
	return s, nil
}

// Marshal encodes the snapshot with members and counters sorted by key.
func (s *Snapshot) Marshal() ([]byte, error) {
	w := &wire.Snapshot{Head: s.Head.toWire(), Text: s.Text, Epoch: s.Epoch}
	for _, m := range s.Members {
		w.Members = append(w.Members, &wire.Member{Key: m.ID[:], HpkePub: m.HPKEPub, Role: uint32(m.Role)})
	}
	ids := make([]MemberID, 0, len(s.Counters))
	for id := range s.Counters {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	for _, id := range ids {
		w.Counters = append(w.Counters, &wire.AuthorCounter{Author: id[:], Counter: s.Counters[id]})
	}
	return proto.Marshal(w)
}

// DecodeSnapshot decodes a snapshot and checks its shape (the head signature
// is checked with Head.Verify by the caller, who knows the sequencer key).
func DecodeSnapshot(b []byte) (*Snapshot, error) {
	var w wire.Snapshot
	if err := unmarshal(b, MaxSnapshotBytes, &w, "snapshot"); err != nil {
		return nil, err
	}
	h, err := headFromWire(w.Head)
	if err != nil {
		return nil, err
	}
	if !utf8.ValidString(w.Text) {
		return nil, fmt.Errorf("%w: snapshot text is not UTF-8", ErrMalformed)
	}
	if len(w.Members) == 0 || len(w.Members) > MaxMembers || len(w.Counters) > 4*MaxMembers {
		return nil, fmt.Errorf("%w: snapshot with %d members, %d counters", ErrMalformed, len(w.Members), len(w.Counters))
	}
	s := &Snapshot{Head: h, Text: w.Text, Epoch: w.Epoch, Counters: map[MemberID]uint64{}}
	for _, wm := range w.Members {
		var m Member
		if err := copy32((*[32]byte)(&m.ID), wm.Key, "member key"); err != nil {
			return nil, err
		}
		if m.Role = Role(wm.Role); !m.Role.valid() {
			return nil, fmt.Errorf("%w: role %d", ErrMalformed, wm.Role)
		}
		if err := ParseHPKEPublic(wm.HpkePub); err != nil {
			return nil, err
		}
		m.HPKEPub = intern.Bytes(wm.HpkePub)
		s.Members = append(s.Members, m)
	}
	for _, c := range w.Counters {
		var id MemberID
		if err := copy32((*[32]byte)(&id), c.Author, "counter author"); err != nil {
			return nil, err
		}
		if _, dup := s.Counters[id]; dup {
			return nil, fmt.Errorf("%w: counter listed twice", ErrMalformed)
		}
		s.Counters[id] = c.Counter
	}
	return s, nil
}
