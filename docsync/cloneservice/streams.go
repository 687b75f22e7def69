package cloneservice

import (
	"bufio"
	"context"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/seqservice/netproto"
	"github.com/libp2p/go-libp2p/core/network"
)

// handlePush takes entries pushed to us (a sequencer's targeted delivery,
// or anyone's: they are verified like any other).
func (s *Service) handlePush(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.params.StreamTimeout))
	es, err := netproto.ReadEntries(bufio.NewReader(st), netproto.MaxHistoryBatch)
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
		s.post(func() { s.onEntries(doc, es) })
	}
}

// handleInvite takes an invitation and starts tracking the document.
func (s *Service) handleInvite(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.params.StreamTimeout))
	from := st.Conn().RemotePeer()
	b, err := netproto.ReadFrame(bufio.NewReader(st), netproto.MaxInvitationBytes)
	var inv *netproto.Invitation
	if err == nil {
		inv, err = netproto.DecodeInvitation(b)
	}
	if err == nil && s.opts.accept != nil && !s.opts.accept(from, inv) {
		err = ErrRefused
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(s.ctx, s.params.StreamTimeout)
		err = s.Join(ctx, inv)
		cancel()
	}
	if err != nil {
		s.stats.badStreams.Add(1)
		s.log.Info("invitation refused", "peer", from, "err", netproto.ShortError(err))
	} else {
		s.stats.invitations.Add(1)
		s.log.Info("accepted invitation", "peer", from, "doc", inv.Doc, "role", inv.Role)
	}
	if werr := netproto.WriteReply(st, nil, err); werr != nil {
		_ = st.Reset()
	}
}
