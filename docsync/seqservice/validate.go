package seqservice

import (
	"context"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/seqservice/netproto"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// validateSubmit is the submit topic's validator. It runs on pubsub's
// goroutines, so it reads only the concurrent member set. Malformed,
// wrong-document, forged or relayed-by-someone-else envelopes are
// rejected (the sender's score drops); ones by non-members are ignored
// (a member removed a moment ago may still have one in flight).
func (s *Service) validateSubmit(doc docsync.DocID) pubsub.ValidatorEx {
	return func(_ context.Context, _ peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		env, err := docsync.DecodeEnvelope(m.Data)
		if err == nil && env.Doc != doc {
			err = docsync.ErrWrongDoc
		}
		if err == nil {
			var author docsync.MemberID
			if author, err = netproto.MemberOf(m.GetFrom()); err == nil && author != env.Author {
				err = docsync.ErrAuthorSignature
			}
		}
		if err == nil {
			err = env.VerifyAuthor()
		}
		if err != nil {
			s.stats.invalid.Add(1)
			s.log.Debug("rejected submission", "doc", doc, "from", m.GetFrom(), "err", netproto.ShortError(err))
			return pubsub.ValidationReject
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
				return pubsub.ValidationIgnore
			}
		}
		m.ValidatorData = env
		return pubsub.ValidationAccept
	}
}
