package seqservice

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// handleRegister takes a creator's genesis envelope and orders it as seq 1.
// One peer's registrations are rate limited before anything is read.
func (s *Service) handleRegister(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.params.StreamTimeout))
	from := st.Conn().RemotePeer()
	var reply []byte
	var b []byte
	err := ErrRateLimited
	if s.registerRate.Allow(from, s.opts.now()) {
		b, err = netproto.ReadFrame(bufio.NewReader(st), docsync.MaxEnvelopeBytes)
		if err == nil {
			reply, err = s.register(from, b)
		}
	}
	if err != nil {
		s.stats.badStreams.Add(1)
		s.refusals.Refuse(from.String(), "register_"+reasonOf(err), err)
	}
	if werr := netproto.WriteReply(st, reply, err); werr != nil {
		_ = st.Reset()
	}
}

// register checks a genesis envelope and orders it; it returns the entry.
func (s *Service) register(from peer.ID, b []byte) ([]byte, error) {
	env, err := docsync.DecodeEnvelope(b)
	if err != nil {
		return nil, err
	}
	if author, err := netproto.MemberOf(from); err != nil || author != env.Author {
		return nil, fmt.Errorf("%w: not sent by its author", ErrNotGenesis)
	}
	if env.Kind != docsync.KindMember || env.Parent != 0 {
		return nil, ErrNotGenesis
	}
	op, err := docsync.DecodeMemberOp(env.Body)
	if err != nil || op.Type != docsync.OpGenesis || !bytes.Equal(op.Sequencer, s.pub) {
		return nil, ErrNotGenesis
	}
	if err := env.VerifyAuthor(); err != nil {
		return nil, err
	}
	var reply []byte
	var rerr error
	if err := s.do(s.ctx, func() { reply, rerr = s.registerLoop(env) }); err != nil {
		return nil, err
	}
	return reply, rerr
}

func (s *Service) registerLoop(env *docsync.Envelope) ([]byte, error) {
	d := s.docs[env.Doc]
	if d != nil {
		first := s.readRange(d.id, 1, 1, 1)
		if len(first) != 1 {
			return nil, fmt.Errorf("%w: document exists", ErrNotGenesis)
		}
		e, err := docsync.DecodeEntry(first[0])
		if err != nil || e.Envelope.Digest() != env.Digest() {
			return nil, fmt.Errorf("%w: document exists with another genesis", ErrNotGenesis)
		}
		return first[0], nil // the creator re-sent its genesis
	}
	if len(s.docs) >= s.params.MaxDocs {
		return nil, ErrTooManyDocs
	}
	if s.docsBy[env.Author] >= s.params.MaxDocsPerAuthor {
		return nil, fmt.Errorf("%w: %d documents", ErrAuthorQuota, s.docsBy[env.Author])
	}
	d, err := s.openDoc(env.Doc)
	if err != nil {
		return nil, err
	}
	d.began = true
	o, err := d.seq.Order(env)
	if err == nil && len(o.Publish) == 0 {
		err = errors.New("the sequencer published no entry")
	}
	if err != nil {
		d.close(s)
		delete(s.docs, env.Doc)
		return nil, fmt.Errorf("%w: %w", ErrNotGenesis, err)
	}
	log, dl, err := encodeOrdered(d, o)
	if err == nil {
		err = s.persist(log)
	}
	if err != nil {
		d.close(s)
		delete(s.docs, env.Doc)
		return nil, fmt.Errorf("seqservice: persist genesis: %w", err)
	}
	s.refreshMembers(d)
	s.docsBy[env.Author]++
	s.log.Info("registered document", "doc", d.id)
	return dl[0].bytes, nil // the genesis entry: the creator's reply
}

// handleHistory serves a history range to a current member of the
// document (the member set the submit validator also reads).
func (s *Service) handleHistory(st network.Stream) {
	err := netproto.ServeHistory(st, func(who peer.ID, doc docsync.DocID, from, to uint64, max int) ([][]byte, error) {
		if !s.historyRate.Allow(who, s.opts.now()) {
			s.refusals.Refuse(who.String(), "history_rate", nil)
			return nil, ErrRateLimited
		}
		seq, ok := s.memberView(doc, who)
		if !ok {
			s.refusals.Refuse(who.String(), "history_not_member", nil)
			return nil, ErrNotMember
		}
		if err := s.compactedAnswer(doc, from); err != nil {
			return nil, err // behind our checkpoint: members keep snapshots (compact.go)
		}
		m, _ := netproto.MemberOf(who)
		to = min(to, from+uint64(max)-1)
		out, err := seq.History(m, from, to, func(from, to uint64) [][]byte { return s.readRange(doc, from, to, max) })
		s.stats.served.Add(uint64(len(out)))
		return out, err
	}, s.params.StreamTimeout)
	if err != nil {
		s.stats.badStreams.Add(1)
	}
}

// memberView returns doc's sequencer if p's clone is a current member of
// doc. Safe off the loop.
func (s *Service) memberView(doc docsync.DocID, p peer.ID) (sequencer.Orderer, bool) {
	m, err := netproto.MemberOf(p)
	if err != nil {
		return nil, false
	}
	v, _ := s.members.Load(doc)
	ms, _ := v.(*memberSet)
	if ms == nil {
		return nil, false
	}
	_, ok := ms.roles[m]
	return ms.seq, ok
}

// reasonOf names a refusal's cause for the refusal metric's label.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, ErrRateLimited):
		return "rate"
	case errors.Is(err, ErrTooManyDocs):
		return "doc_limit"
	case errors.Is(err, ErrAuthorQuota):
		return "author_quota"
	case errors.Is(err, ErrNotGenesis):
		return "not_genesis"
	case errors.Is(err, docsync.ErrReplay):
		return "replay"
	case errors.Is(err, docsync.ErrParentHash), errors.Is(err, docsync.ErrParentRange):
		return "parent"
	case errors.Is(err, docsync.ErrNotMember), errors.Is(err, docsync.ErrNoWriteRight),
		errors.Is(err, docsync.ErrBadMemberOp), errors.Is(err, docsync.ErrEpoch):
		return "membership"
	case errors.Is(err, docsync.ErrAuthorSignature):
		return "signature"
	case errors.Is(err, docsync.ErrMalformed), errors.Is(err, docsync.ErrTooLarge),
		errors.Is(err, netproto.ErrMalformed), errors.Is(err, netproto.ErrFrameTooLarge):
		return "malformed"
	}
	return "other"
}

// readRange reads persisted entries straight from the datastore (safe
// concurrently with the loop: an entry is written once, before it is known).
func (s *Service) readRange(doc docsync.DocID, from, to uint64, max int) [][]byte {
	var out [][]byte
	for seq := from; seq <= to && len(out) < max; seq++ {
		b, err := s.ds.Get(context.Background(), entryKey(doc, seq))
		if err != nil {
			break
		}
		out = append(out, b)
	}
	return out
}
