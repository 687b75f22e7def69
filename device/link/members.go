package link

import (
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/internal/wirebytes"
)

// KindMembers (clone -> device): the document's member list, whole. Its
// value is fixed, like the presence kinds'.
const KindMembers Kind = 10

// MemberInfo is one member as a KindMembers carries it.
type MemberInfo struct {
	Member docsync.MemberID
	Role   docsync.Role
	Self   bool // the device's own clone
}

// MaxMembers bounds a KindMembers.
const MaxMembers = 4096

// memberBytes is one member's encoded size: ID, role, flags.
const memberBytes = 32 + 1 + 1

func encodeMembers(w *wirebytes.Writer, m *Message) {
	ms := m.Members
	if len(ms) > MaxMembers {
		ms = ms[:MaxMembers]
	}
	w.Uvarint(uint64(len(ms)))
	for _, mi := range ms {
		w.Raw(mi.Member[:])
		w.Byte(byte(mi.Role))
		var flags byte
		if mi.Self {
			flags = 1
		}
		w.Byte(flags)
	}
}

func decodeMembers(r *wirebytes.Reader, m *Message) {
	n := r.Uvarint()
	// The count is checked against the bytes that arrived before anything
	// is allocated for it.
	if r.Err() == nil && (n > MaxMembers || n*memberBytes > uint64(r.Len())) {
		r.Fail("member count")
		return
	}
	m.Members = make([]MemberInfo, 0, n)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		var mi MemberInfo
		copy(mi.Member[:], r.Fixed(len(mi.Member)))
		rf := r.Fixed(2)
		if r.Err() != nil {
			return
		}
		role, flags := docsync.Role(rf[0]), rf[1]
		if role < docsync.RoleReader || role > docsync.RoleAdmin || flags > 1 {
			r.Fail("member role or flags")
			return
		}
		mi.Role, mi.Self = role, flags == 1
		m.Members = append(m.Members, mi)
	}
}
