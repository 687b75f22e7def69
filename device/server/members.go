package server

import (
	"slices"
	"time"

	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
)

// memberLister is what an Engine may also do: list a document's members
// and name the clone's own (cloneservice.Service does). Without it the
// device gets no member list.
type memberLister interface {
	Members(doc docsync.DocID) ([]cloneservice.Member, error)
	ID() docsync.MemberID
}

// membersEvery bounds how often a session looks the member list up again
// (on the stream's wakeups).
const membersEvery = time.Second

// members returns the document's member list as the link carries it (nil,
// false: the engine cannot list them).
func (s *Server) members(doc docsync.DocID) ([]link.MemberInfo, bool) {
	ml, ok := s.eng.(memberLister)
	if !ok {
		return nil, false
	}
	ms, err := ml.Members(doc)
	if err != nil {
		return nil, false
	}
	me := ml.ID()
	out := make([]link.MemberInfo, 0, len(ms))
	for _, m := range ms {
		out = append(out, link.MemberInfo{Member: m.ID, Role: m.Role, Self: m.ID == me})
	}
	return out, true
}

// sendMembers sends the member list if it changed since the session last
// sent it (looked up at most every membersEvery unless first).
func (se *session) sendMembers(hb *hub) error {
	now := hb.s.now()
	if se.membersSent != nil && now.Sub(se.membersAt) < membersEvery {
		return nil
	}
	se.membersAt = now
	ms, ok := hb.s.members(hb.doc)
	if !ok || (se.membersSent != nil && slices.Equal(ms, se.membersSent)) {
		return nil
	}
	se.membersSent = ms
	return se.write(&link.Message{Kind: link.KindMembers, Members: ms})
}
