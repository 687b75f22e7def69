package docsync

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"sort"
)

// Member is a document member as the membership state knows it.
type Member struct {
	ID      MemberID
	HPKEPub []byte
	Role    Role
}

// sealedPrev is the previous epoch's key sealed under an epoch's key.
type sealedPrev struct{ nonce, ct []byte }

// Membership is the ACL state of a document at some seq: the members, their
// roles and HPKE keys, the current key epoch and the sealed key chain. It is
// derived only from sequenced membership ops, so every honest party computes
// the same state at the same seq.
type Membership struct {
	epoch    uint64
	members  map[MemberID]*Member
	prevKeys map[uint64]sealedPrev
	// wraps holds the current epoch's key as the log wrapped it to each
	// member (genesis, remove, add bundles): public data a snapshot carries
	// so that a joiner can unwrap its key without the op that gave it.
	wraps map[MemberID][]byte
}

func newMembership() *Membership {
	return &Membership{members: map[MemberID]*Member{}, prevKeys: map[uint64]sealedPrev{},
		wraps: map[MemberID][]byte{}}
}

// Epoch returns the current key epoch (0 before genesis).
func (m *Membership) Epoch() uint64 { return m.epoch }

// Get returns a member by ID.
func (m *Membership) Get(id MemberID) (Member, bool) {
	p, ok := m.members[id]
	if !ok {
		return Member{}, false
	}
	return *p, true
}

// Len is the number of members (Members without the copy and the sort).
func (m *Membership) Len() int { return len(m.members) }

// Members returns all members sorted by ID.
func (m *Membership) Members() []Member {
	out := make([]Member, 0, len(m.members))
	for _, p := range m.members {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) < 0 })
	return out
}

func (m *Membership) admins() int {
	n := 0
	for _, p := range m.members {
		if p.Role == RoleAdmin {
			n++
		}
	}
	return n
}

// checkEnvelope checks the author's rights and the epoch of an envelope.
func (m *Membership) checkEnvelope(env *Envelope) error {
	if m.epoch == 0 {
		if env.Kind != KindMember || env.Epoch != 1 {
			return fmt.Errorf("%w: %v before genesis", ErrNotMember, env.Author)
		}
		return nil
	}
	p, ok := m.members[env.Author]
	if !ok {
		return fmt.Errorf("%w: %v", ErrNotMember, env.Author)
	}
	need := RoleWriter
	if env.Kind == KindMember {
		need = RoleAdmin
	}
	if p.Role < need {
		return fmt.Errorf("%w: %v is %v, needs %v", ErrNoWriteRight, env.Author, p.Role, need)
	}
	if env.Epoch != m.epoch {
		return fmt.Errorf("%w: envelope epoch %d, current %d", ErrEpoch, env.Epoch, m.epoch)
	}
	return nil
}

// checkOp checks a membership op authored by author at seq against the state.
func (m *Membership) checkOp(author MemberID, seq uint64, seqPub ed25519.PublicKey, op *MemberOp) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadMemberOp}, a...)...)
	}
	subject, isMember := m.members[op.Member]
	switch op.Type {
	case OpGenesis:
		if m.epoch != 0 || seq != 1 {
			return bad("genesis at seq %d", seq)
		}
		if op.Member != author || op.Role != RoleAdmin || !bytes.Equal(op.Sequencer, seqPub) {
			return bad("genesis must name its author as admin and this document's sequencer")
		}
		if op.Bundle.Epoch != 1 || !sameSet(op.Bundle.recipients(), author) || len(op.Bundle.PrevKey) != 0 {
			return bad("genesis bundle must wrap epoch 1 to the creator only")
		}
	case OpAdd:
		if isMember {
			return bad("%v is already a member", op.Member)
		}
		if len(m.members) >= MaxMembers {
			return bad("member cap %d reached", MaxMembers)
		}
		if op.Bundle.Epoch != m.epoch || !sameSet(op.Bundle.recipients(), op.Member) || len(op.Bundle.PrevKey) != 0 {
			return bad("add must wrap the current epoch %d key to the new member only", m.epoch)
		}
	case OpRemove:
		if !isMember {
			return bad("%v is not a member", op.Member)
		}
		if subject.Role == RoleAdmin && m.admins() == 1 {
			return bad("cannot remove the last admin")
		}
		want := make(map[MemberID]bool, len(m.members))
		for id := range m.members {
			if id != op.Member {
				want[id] = true
			}
		}
		if op.Bundle.Epoch != m.epoch+1 || !equalSets(op.Bundle.recipients(), want) || len(op.Bundle.PrevKey) == 0 {
			return bad("remove must wrap epoch %d to exactly the remaining members and chain the old key", m.epoch+1)
		}
	case OpChangeRole:
		if !isMember {
			return bad("%v is not a member", op.Member)
		}
		if subject.Role == RoleAdmin && op.Role != RoleAdmin && m.admins() == 1 {
			return bad("cannot demote the last admin")
		}
	case OpMove:
		return checkMove(author, seqPub, op)
	}
	return nil
}

// apply applies a checked op.
func (m *Membership) apply(op *MemberOp) {
	switch op.Type {
	case OpGenesis, OpAdd:
		m.members[op.Member] = &Member{ID: op.Member, HPKEPub: op.HPKEPub, Role: op.Role}
		if op.Type == OpGenesis {
			m.epoch = 1
		}
		m.takeWraps(op.Bundle)
	case OpRemove:
		delete(m.members, op.Member)
		m.epoch = op.Bundle.Epoch
		m.prevKeys[m.epoch] = sealedPrev{nonce: op.Bundle.PrevNonce, ct: op.Bundle.PrevKey}
		m.wraps = map[MemberID][]byte{}
		m.takeWraps(op.Bundle)
	case OpChangeRole:
		m.members[op.Member].Role = op.Role
	}
}

// takeWraps records the wrapped keys of a checked bundle of the current epoch.
func (m *Membership) takeWraps(kb *KeyBundle) {
	if kb == nil || kb.Epoch != m.epoch {
		return
	}
	for id := range kb.recipients() {
		if ct, ok := kb.keyFor(id); ok {
			m.wraps[id] = ct
		}
	}
}

func sameSet(s map[MemberID]bool, only MemberID) bool { return len(s) == 1 && s[only] }

func equalSets(a, b map[MemberID]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
