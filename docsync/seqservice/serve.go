package seqservice

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/seqservice/netproto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// handleRegister takes a creator's genesis envelope and orders it as seq 1.
func (s *Service) handleRegister(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.params.StreamTimeout))
	b, err := netproto.ReadFrame(bufio.NewReader(st), docsync.MaxEnvelopeBytes)
	var reply []byte
	if err == nil {
		reply, err = s.register(st.Conn().RemotePeer(), b)
	}
	if err != nil {
		s.stats.badStreams.Add(1)
		s.log.Debug("register refused", "peer", st.Conn().RemotePeer(), "err", netproto.ShortError(err))
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
		first, err := s.fetch(d, docsync.MemberID{}, 1, 1)
		if err != nil || len(first) != 1 {
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
	d, err := s.openDoc(env.Doc)
	if err != nil {
		return nil, err
	}
	if d.node != nil {
		dl := d.node.Submit(env)
		if len(dl) == 0 {
			d.close(s)
			delete(s.docs, env.Doc)
			return nil, ErrNotGenesis
		}
		return dl[0].Entry.Marshal()
	}
	e, err := d.ref.Order(env)
	if err != nil {
		d.close(s)
		delete(s.docs, env.Doc)
		return nil, fmt.Errorf("%w: %w", ErrNotGenesis, err)
	}
	b, err := e.Marshal()
	if err == nil {
		err = s.persist([]ordered{{doc: d, entry: e, bytes: b}})
	}
	if err != nil {
		d.close(s)
		delete(s.docs, env.Doc)
		return nil, fmt.Errorf("seqservice: persist genesis: %w", err)
	}
	s.refreshMembers(d)
	s.log.Info("registered document", "doc", d.id)
	return b, nil
}

// handleHistory serves a history range.
func (s *Service) handleHistory(st network.Stream) {
	err := netproto.ServeHistory(st, func(who peer.ID, doc docsync.DocID, from, to uint64, max int) ([][]byte, error) {
		if s.opts.factory == nil {
			out := s.readRange(doc, from, to, max)
			s.stats.served.Add(uint64(len(out)))
			return out, nil
		}
		m, _ := netproto.MemberOf(who)
		var out [][]byte
		var err error
		if e := s.do(s.ctx, func() {
			d := s.docs[doc]
			if d == nil {
				err = ErrUnknownDoc
				return
			}
			out, err = s.fetch(d, m, from, min(to, from+uint64(max)-1))
		}); e != nil {
			return nil, e
		}
		return out, err
	}, s.params.StreamTimeout)
	if err != nil {
		s.stats.badStreams.Add(1)
	}
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

// fetch returns entries from..to of d (loop only for plugged sequencers).
func (s *Service) fetch(d *docState, who docsync.MemberID, from, to uint64) ([][]byte, error) {
	if d.node == nil {
		return s.readRange(d.id, from, to, netproto.MaxHistoryBatch), nil
	}
	var out [][]byte
	for _, e := range d.node.Fetch(who, from, to) {
		b, err := e.Marshal()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
