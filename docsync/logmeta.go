package docsync

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/clone2clone/c2c/docsync/wire"
	"github.com/clone2clone/c2c/internal/intern"
)

// logMeta is the log state besides the chain hashes: membership, the
// wrapped keys of the current epoch, the sealed key chain and the counters.
// Snapshots (sealed.go) and sequencer checkpoints (checkpoint.go) carry it.
type logMeta struct {
	epoch    uint64
	members  []Member // sorted by ID
	wraps    map[MemberID][]byte
	prevKeys map[uint64]sealedPrev
	counters map[MemberID]uint64
}

// metaOf copies l's log state.
func metaOf(l *LogState) logMeta {
	ms := l.Membership()
	m := logMeta{epoch: ms.Epoch(), members: ms.Members(), wraps: map[MemberID][]byte{},
		prevKeys: map[uint64]sealedPrev{}, counters: map[MemberID]uint64{}}
	for id, ct := range ms.wraps {
		m.wraps[id] = ct
	}
	for e, p := range ms.prevKeys {
		m.prevKeys[e] = p
	}
	for id, c := range l.counters {
		m.counters[id] = c
	}
	return m
}

// install sets l's membership and counters to m.
func (m logMeta) install(l *LogState) {
	for id, c := range m.counters {
		l.counters[id] = c
	}
	ms := l.members
	ms.epoch = m.epoch
	for _, mb := range m.members {
		mb := mb
		ms.members[mb.ID] = &mb
	}
	for e, p := range m.prevKeys {
		ms.prevKeys[e] = p
	}
	for id, ct := range m.wraps {
		ms.wraps[id] = ct
	}
}

type metaWire struct {
	members  []*wire.Member
	wraps    []*wire.WrappedKey
	prevKeys []*wire.SealedPrevKey
	counters []*wire.AuthorCounter
}

// toWire encodes m in a canonical order (members and counters by ID, sealed keys by epoch).
func (m logMeta) toWire() metaWire {
	var w metaWire
	for _, mb := range m.members {
		w.members = append(w.members, &wire.Member{Key: mb.ID[:], HpkePub: mb.HPKEPub, Role: uint32(mb.Role)})
		if ct, ok := m.wraps[mb.ID]; ok {
			w.wraps = append(w.wraps, &wire.WrappedKey{Member: mb.ID[:], Ciphertext: ct})
		}
	}
	epochs := make([]uint64, 0, len(m.prevKeys))
	for e := range m.prevKeys {
		epochs = append(epochs, e)
	}
	sort.Slice(epochs, func(i, j int) bool { return epochs[i] < epochs[j] })
	for _, e := range epochs {
		p := m.prevKeys[e]
		w.prevKeys = append(w.prevKeys, &wire.SealedPrevKey{Epoch: e, Nonce: p.nonce, Ciphertext: p.ct})
	}
	ids := make([]MemberID, 0, len(m.counters))
	for id := range m.counters {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	for _, id := range ids {
		w.counters = append(w.counters, &wire.AuthorCounter{Author: id[:], Counter: m.counters[id]})
	}
	return w
}

// metaFromWire decodes and checks log state: at most MaxMembers members,
// sorted and unique, with valid roles and HPKE keys; wraps only for
// members; sealed keys of epochs 2..epoch; at most MaxSnapshotAuthors
// counters, none zero or listed twice.
func metaFromWire(epoch uint64, w metaWire, what string) (logMeta, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s "+format, append([]any{ErrMalformed, what}, a...)...)
	}
	m := logMeta{epoch: epoch}
	if epoch == 0 || len(w.members) == 0 || len(w.members) > MaxMembers || len(w.wraps) > len(w.members) ||
		len(w.counters) > MaxSnapshotAuthors || uint64(len(w.prevKeys)) >= epoch {
		return m, bad("at epoch %d with %d members, %d wraps, %d counters, %d sealed keys",
			epoch, len(w.members), len(w.wraps), len(w.counters), len(w.prevKeys))
	}
	for i, wm := range w.members {
		var mb Member
		if err := copy32((*[32]byte)(&mb.ID), wm.Key, "member key"); err != nil {
			return m, err
		}
		if i > 0 && bytes.Compare(m.members[i-1].ID[:], mb.ID[:]) >= 0 {
			return m, bad("members not sorted or listed twice")
		}
		if mb.Role = Role(wm.Role); !mb.Role.valid() {
			return m, bad("role %d", wm.Role)
		}
		if err := ParseHPKEPublic(wm.HpkePub); err != nil {
			return m, err
		}
		mb.HPKEPub = intern.Bytes(wm.HpkePub)
		m.members = append(m.members, mb)
	}
	m.wraps = make(map[MemberID][]byte, len(w.wraps))
	for _, k := range w.wraps {
		var id MemberID
		if err := copy32((*[32]byte)(&id), k.Member, "wrap member"); err != nil {
			return m, err
		}
		if _, dup := m.wraps[id]; dup || !isMemberOf(m.members, id) || len(k.Ciphertext) == 0 || len(k.Ciphertext) > maxWrapBytes {
			return m, bad("key wrap for %v", id)
		}
		m.wraps[id] = intern.Bytes(k.Ciphertext)
	}
	m.prevKeys = make(map[uint64]sealedPrev, len(w.prevKeys))
	for _, p := range w.prevKeys {
		_, dup := m.prevKeys[p.Epoch]
		if dup || p.Epoch < 2 || p.Epoch > epoch || len(p.Nonce) != NonceSize ||
			len(p.Ciphertext) == 0 || len(p.Ciphertext) > 2*KeySize {
			return m, bad("sealed key of epoch %d", p.Epoch)
		}
		m.prevKeys[p.Epoch] = sealedPrev{nonce: append([]byte(nil), p.Nonce...), ct: append([]byte(nil), p.Ciphertext...)}
	}
	m.counters = make(map[MemberID]uint64, len(w.counters))
	for _, c := range w.counters {
		var id MemberID
		if err := copy32((*[32]byte)(&id), c.Author, "counter author"); err != nil {
			return m, err
		}
		if _, dup := m.counters[id]; dup || c.Counter == 0 {
			return m, bad("counter of %v", id)
		}
		m.counters[id] = c.Counter
	}
	return m, nil
}

// isMemberOf searches members sorted by ID.
func isMemberOf(members []Member, id MemberID) bool {
	i := sort.Search(len(members), func(i int) bool { return bytes.Compare(members[i].ID[:], id[:]) >= 0 })
	return i < len(members) && members[i].ID == id
}
