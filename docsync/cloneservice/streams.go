package cloneservice

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// handlePush takes entries pushed to us: a sequencer's targeted delivery
// to a clone without a feed. Only a document's sequencer peer may push its
// entries; they are verified like any other.
func (s *Service) handlePush(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.params.StreamTimeout))
	from := st.Conn().RemotePeer()
	es, err := netproto.ReadEntries(bufio.NewReader(st), netproto.MaxPushEntries, netproto.MaxPushBytes)
	if err != nil {
		s.stats.badStreams.Add(1)
		s.log.Debug("bad push", "peer", st.Conn().RemotePeer(), "err", netproto.ShortError(err))
		_ = st.Reset()
	}
	byDoc := map[docsync.DocID][]*docsync.Entry{}
	for _, e := range es {
		byDoc[e.Head.Doc] = append(byDoc[e.Head.Doc], e)
	}
	for doc, es := range byDoc {
		s.post(func() {
			if d := s.docs[doc]; d == nil || d.seqPeer != from {
				s.stats.badStreams.Add(1)
				s.refusals.Refuse(from.String(), "push_not_sequencer", nil)
				return
			}
			s.onEntries(doc, es)
		})
	}
}

// handleInvite takes an invitation and starts tracking the document. A
// stranger's invitation costs a rate-limit check, a bounded read and four
// signature checks; nothing is written before it verified and the invite
// policy accepted it, and the document limits are checked before that write.
func (s *Service) handleInvite(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.params.StreamTimeout))
	from := st.Conn().RemotePeer()
	inv, reason, err := s.checkInvite(st, from)
	if err == nil {
		ctx, cancel := context.WithTimeout(s.ctx, s.params.StreamTimeout)
		err = s.join(ctx, inv)
		cancel()
		switch {
		case errors.Is(err, ErrTooManyDocs):
			reason = "doc_limit"
		case errors.Is(err, ErrTooManyUnverified):
			reason = "unverified_limit"
		case err != nil:
			reason = "join"
		}
	}
	if err != nil {
		s.stats.badStreams.Add(1)
		s.refusals.Refuse(from.String(), reason, err)
	} else {
		s.stats.invitations.Add(1)
		s.log.Info("accepted invitation", "peer", from, "doc", inv.Doc, "role", inv.Role)
	}
	if werr := netproto.WriteReply(st, nil, err); werr != nil {
		_ = st.Reset()
	}
}

// checkInvite reads and checks an invitation from peer from: rate, size,
// shape, evidence, policy. On refusal it returns the reason's label.
func (s *Service) checkInvite(st network.Stream, from peer.ID) (*netproto.Invitation, string, error) {
	if !s.inviteRate.Allow(from, s.now()) {
		return nil, "rate", ErrRateLimited
	}
	b, err := netproto.ReadFrame(bufio.NewReader(st), netproto.MaxInvitationBytes)
	if err != nil {
		return nil, "malformed", err
	}
	inv, err := netproto.DecodeInvitation(b)
	if err != nil {
		return nil, "malformed", err
	}
	fromID, err := netproto.MemberOf(from)
	if err != nil {
		return nil, "malformed", err
	}
	if err := inv.Verify(s.me, fromID); err != nil {
		return nil, "unverified", err
	}
	in := Inviter{Peer: from, Credential: inv.Credential}
	ctx, cancel := context.WithTimeout(s.ctx, s.params.StreamTimeout)
	defer cancel()
	if err := s.do(ctx, func() { in.Member = s.isMember(fromID) }); err != nil {
		return nil, "closed", err
	}
	if !s.opts.accept(in, inv) {
		return nil, "policy", fmt.Errorf("%w: the invite policy does not accept %s", ErrRefused, from)
	}
	return inv, "", nil
}
