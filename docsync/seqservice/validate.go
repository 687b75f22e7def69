package seqservice

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// validateSubmit is the submit topic's validator. It runs on pubsub's
// goroutines, so it reads only the concurrent member set (see admit).
func (s *Service) validateSubmit(doc docsync.DocID) pubsub.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		// Messages carry no publisher (netproto.GossipOptions): the peer
		// that sent this one must be its author, so a submit topic is a
		// channel from each author to the sequencer and nobody may relay.
		env, res := s.admit(doc, from, m.Data)
		if res != pubsub.ValidationAccept {
			return res
		}
		// So the validator queues the envelope for the loop itself and has
		// gossipsub ignore the message, which then goes to no other
		// subscriber. An accepted message would be forwarded: during a
		// move the sequencer the document was leaving forwarded envelopes
		// to the one it moved to, which refused them (c2c demo's log); and
		// gossipsub marks a message seen before its validators run, so a
		// relayed copy that came first would make the author's own copy a
		// duplicate, dropped unread.
		select {
		case s.envs <- &submitted{doc: doc, env: env}:
		default:
			s.stats.queueFull.Add(1) // the author resubmits
		}
		return pubsub.ValidationIgnore
	}
}

// admit checks a submission to doc by peer from, wherever it came from
// (the submit topic or the submit stream). Malformed, wrong-document,
// forged or relayed-by-someone-else envelopes are rejected (on the topic
// the sender's score drops); ones past the author's quotas or by
// non-members are ignored (a member removed a moment ago may still have
// one in flight). Safe from any goroutine.
func (s *Service) admit(doc docsync.DocID, from peer.ID, data []byte) (*docsync.Envelope, pubsub.ValidationResult) {
	env, err := docsync.DecodeEnvelope(data)
	if err == nil && env.Doc != doc {
		err = docsync.ErrWrongDoc
	}
	if err == nil {
		var author docsync.MemberID
		if author, err = netproto.MemberOf(from); err == nil && author != env.Author {
			err = docsync.ErrAuthorSignature
		}
	}
	if err == nil {
		// Quotas before the signature check, so that a flood costs a
		// decode per message; an honest author past them resubmits.
		now := s.opts.now()
		if !s.envRate.Allow(env.Author, now) || !s.byteRate.AllowN(env.Author, float64(len(data)), now) {
			s.stats.invalid.Add(1)
			s.refusals.Refuse(from.String(), "submit_rate", fmt.Errorf("doc %v", doc))
			return nil, pubsub.ValidationIgnore
		}
		err = env.VerifyAuthor()
	}
	if err != nil {
		s.stats.invalid.Add(1)
		s.refusals.Refuse(from.String(), "submit_"+reasonOf(err), fmt.Errorf("doc %v: %w", doc, err))
		return nil, pubsub.ValidationReject
	}
	v, _ := s.members.Load(doc)
	ms, _ := v.(*memberSet)
	if ms != nil && len(ms.roles) > 0 {
		need := docsync.RoleWriter
		if env.Kind == docsync.KindMember {
			need = docsync.RoleAdmin
		}
		if role, ok := ms.roles[env.Author]; !ok || role < need {
			s.stats.invalid.Add(1)
			s.refusals.Refuse(from.String(), "submit_membership", fmt.Errorf("doc %v: no %v right", doc, need))
			return nil, pubsub.ValidationIgnore
		}
	}
	return env, pubsub.ValidationAccept
}

// handleSubmit takes one envelope on a stream: the path a clone falls back
// to when gossipsub does not show this sequencer on the document's submit
// topic (see cloneservice). The envelope is admitted like a topic message
// and queued for the loop; the reply only says it was queued.
func (s *Service) handleSubmit(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.params.StreamTimeout))
	from := st.Conn().RemotePeer()
	b, err := netproto.ReadFrame(bufio.NewReader(st), docsync.MaxEnvelopeBytes)
	var env *docsync.Envelope
	if err == nil {
		env, err = docsync.DecodeEnvelope(b)
	}
	if err == nil {
		if _, known := s.members.Load(env.Doc); !known {
			err = ErrUnknownDoc
		}
	}
	if err != nil {
		s.stats.badStreams.Add(1)
		s.refusals.Refuse(from.String(), "submit_"+reasonOf(err), err)
		if werr := netproto.WriteReply(st, nil, err); werr != nil {
			_ = st.Reset()
		}
		return
	}
	env, res := s.admit(env.Doc, from, b)
	if res != pubsub.ValidationAccept {
		err = fmt.Errorf("seqservice: submission not admitted")
	} else {
		ctx, cancel := context.WithTimeout(s.ctx, s.params.StreamTimeout)
		select {
		case s.envs <- &submitted{doc: env.Doc, env: env}:
		case <-ctx.Done():
			err = ctx.Err()
		}
		cancel()
	}
	if werr := netproto.WriteReply(st, nil, err); werr != nil {
		_ = st.Reset()
	}
}
