package mirrorservice

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/journal"
	"github.com/clone2clone/c2c/replication/syncwire"
)

func (s *Server) now() replication.Time { return replication.Time(s.clock().UnixMilli()) }

func (s *Server) loop() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.arm(timer)
		select {
		case f := <-s.reqs:
			f()
		case <-timer.C:
			s.tick()
		case <-s.ctx.Done():
			if s.sess != nil {
				s.sess.close()
			}
			return
		}
	}
}

// arm sets the timer to the mirror's next due time.
func (s *Server) arm(t *time.Timer) {
	t.Stop()
	if s.st.m == nil {
		return
	}
	if at, ok := s.st.m.NextDue(); ok {
		t.Reset(max(time.Duration(at-s.now())*time.Millisecond, 0))
	}
}

// fatal stops the service: the journal failed, so nothing more may be acknowledged.
func (s *Server) fatal(err error) {
	s.log.Error("mirror: stopping", "err", err)
	if s.err == nil {
		s.err = err
	}
	s.cancel()
}

func (s *Server) append(rec []byte) bool {
	if err := s.st.journal.Append(s.ctx, rec); err != nil {
		s.fatal(fmt.Errorf("journal: %w", err))
		return false
	}
	return true
}

func (s *Server) send(m *syncwire.Message) {
	if s.sess != nil {
		s.sess.send(m)
	}
}

func (s *Server) refuse(x *session, code syncwire.RefuseCode, err error) {
	x.send(&syncwire.Message{Kind: syncwire.KindRefuse, Code: code, Reason: err.Error()})
	if s.sess == x {
		s.sess = nil
	}
}

// hello checks the device's epoch, apps and position against the mirror
// (making the mirror on the first Hello), makes x the current session and
// brings the device up to date: Welcome, the network inputs it has not
// consumed, a running resync's request.
func (s *Server) hello(x *session, h *syncwire.Hello) {
	now := s.now()
	meta := Meta{Epoch: h.Epoch, SyncMs: h.SyncMs, MaxDelay: h.MaxDelay, Apps: h.Apps}
	st := s.st
	if st.m == nil {
		if err := meta.Params().Validate(); err != nil {
			x.start()
			s.refuse(x, syncwire.RefuseParams, err)
			return
		}
		if _, err := replication.NewAppSet(st.reg, meta.Apps...); err != nil {
			x.start()
			s.refuse(x, syncwire.RefuseParams, err)
			return
		}
		if !s.append(meta.record()) {
			x.close()
			return
		}
		if err := st.create(meta, now); err != nil {
			s.fatal(err)
			return
		}
	}
	m := st.m
	pos := m.Position()
	var bad error
	switch {
	case meta.Epoch != st.meta.Epoch || meta.SyncMs != st.meta.SyncMs || meta.MaxDelay != st.meta.MaxDelay || !slices.Equal(meta.Apps, st.meta.Apps):
		bad = fmt.Errorf("device says epoch %d, t_syn_int %d ms, t_max %d ms, apps %v; the mirror has %+v", meta.Epoch, meta.SyncMs, meta.MaxDelay, meta.Apps, *st.meta)
	case pos.Taken > h.Number || h.LastNet > pos.Relayed:
		bad = fmt.Errorf("the mirror holds batch %d and relayed %d, the device says batch %d and consumed %d: the device lost state", pos.Taken, pos.Relayed, h.Number, h.LastNet)
	}
	if bad != nil {
		x.start()
		code := syncwire.RefuseParams
		if pos.Taken > h.Number || h.LastNet > pos.Relayed {
			code = syncwire.RefuseState
		}
		s.refuse(x, code, bad)
		return
	}
	if s.sess != nil {
		s.sess.close()
	}
	s.sess, s.acked = x, pos.Taken
	x.start()
	x.send(&syncwire.Message{Kind: syncwire.KindWelcome, Welcome: &syncwire.Welcome{Taken: pos.Taken,
		Relayed: pos.Relayed, Replayed: pos.Replayed, StateHash: m.StateHash()}})
	for _, in := range m.NetAfter(max(h.LastNet, pos.TakenNet), s.params.NetBacklog) {
		x.send(netMsg(in))
	}
	req, want := m.Pending()
	if req != nil {
		x.send(&syncwire.Message{Kind: syncwire.KindResync, Number: req.Number, Cause: syncwire.CauseCode(req.Cause)})
	}
	s.sendWant(want)
}

func netMsg(in replication.NetInput) *syncwire.Message {
	return &syncwire.Message{Kind: syncwire.KindNet, Net: &syncwire.Net{NetSeq: in.NetSeq, App: in.App, Payload: in.Payload}}
}

func (s *Server) sendWant(want []replication.Hash) {
	for len(want) > 0 {
		n := min(len(want), syncwire.MaxWant)
		s.send(&syncwire.Message{Kind: syncwire.KindWant, Want: want[:n]})
		want = want[n:]
	}
}

// ended forgets a session whose stream ended.
func (s *Server) ended(x *session) {
	if s.sess == x {
		s.sess = nil
	}
}

// hostile reports whether err means the device sent something no honest
// device sends: its session ends.
func hostile(err error) bool {
	for _, e := range []error{replication.ErrTruncated, replication.ErrTooLarge, replication.ErrMalformed,
		replication.ErrNonCanonical, replication.ErrWrongDevice, replication.ErrEpoch, replication.ErrSignature,
		replication.ErrChain, replication.ErrPosition, replication.ErrWindow, replication.ErrUnknownApp,
		replication.ErrUnknownNet} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// frame takes one frame of the current session: the core verifies it, the
// journal keeps it if it changed the mirror, and only then does what it
// caused go out.
func (s *Server) frame(x *session, msg *syncwire.Message, size int) {
	if s.sess != x || s.st.m == nil {
		return
	}
	m, now := s.st.m, s.now()
	var err error
	var kind byte
	switch msg.Kind {
	case syncwire.KindBatch:
		err, kind = m.HandleBatch(now, msg.Data), recBatch
	case syncwire.KindChunk:
		err, kind = m.HandleChunk(now, msg.Data), recChunk
	case syncwire.KindOffer:
		err, kind = m.HandleOffer(now, msg.Data), recOffer
	default:
		s.refuse(x, syncwire.RefuseBatch, fmt.Errorf("unexpected message kind %d from the device", msg.Kind))
		return
	}
	if logged(err) {
		if !s.append(journal.NewRec(kind).I(int64(now)).B(msg.Data)) {
			return
		}
		if kind == recBatch {
			s.bytesIn += size
		}
	}
	switch {
	case err == nil, logged(err), errors.Is(err, replication.ErrReplay):
	case hostile(err):
		m.Advance()
		s.log.Warn("mirror: refused", "err", err)
		s.refuse(x, syncwire.RefuseBatch, err)
		return
	default:
		s.log.Info("mirror: ignored", "err", err)
	}
	s.flush()
}

// tick replays what is due; a tick that replayed is a record.
func (s *Server) tick() {
	if s.st.m == nil {
		return
	}
	now := s.now()
	s.st.m.Tick(now)
	if len(s.st.m.Ready().Replayed) > 0 && !s.append(journal.NewRec(recTick).I(int64(now))) {
		return
	}
	s.flush()
}

// relay numbers, caches and journals a network input, then sends it.
func (s *Server) relay(app string, payload []byte) error {
	if len(payload) > replication.MaxChunkBytes {
		return fmt.Errorf("%w: network input of %d bytes", replication.ErrTooLarge, len(payload))
	}
	st := s.st
	if st.m == nil {
		if !s.append(journal.NewRec(recRelay).B([]byte(app)).B(payload)) {
			return ErrClosed
		}
		st.held = append(st.held, held{app, append([]byte(nil), payload...)})
		return nil
	}
	in, err := st.m.Relay(app, payload)
	if err != nil {
		return err
	}
	if !s.append(journal.NewRec(recRelay).B([]byte(app)).B(payload)) {
		return ErrClosed
	}
	s.send(netMsg(in))
	return nil
}

// flush sends and reports what the mirror accumulated, after the journal
// holds its cause.
func (s *Server) flush() {
	m := s.st.m
	rd := m.Ready()
	m.Advance()
	for _, r := range rd.Replayed {
		s.send(&syncwire.Message{Kind: syncwire.KindReplayed, Replayed: &syncwire.Replayed{Number: r.Number,
			Match: r.Match, LagMs: uint64(max(r.MaxLag.Milliseconds(), 0)), StateHash: r.StateHash}})
		if s.obs != nil {
			s.obs.Replayed(r, s.bytesIn)
		}
		s.bytesIn = 0
	}
	if s.obs != nil && len(rd.Outputs) > 0 {
		s.obs.Outputs(rd.Outputs)
	}
	if rd.Resync != nil {
		s.send(&syncwire.Message{Kind: syncwire.KindResync, Number: rd.Resync.Number, Cause: syncwire.CauseCode(rd.Resync.Cause)})
	}
	s.sendWant(rd.Want)
	if rd.Done != nil {
		s.send(&syncwire.Message{Kind: syncwire.KindDone, Number: rd.Done.Number})
	}
	for _, n := range rd.Notices {
		s.log.Info("mirror: notice", "kind", n.Kind, "batch", n.Batch, "err", n.Err)
		if s.obs != nil {
			s.obs.Notice(n)
		}
	}
	if pos := m.Position(); pos.Taken > s.acked && s.sess != nil {
		s.acked = pos.Taken
		s.send(&syncwire.Message{Kind: syncwire.KindAck, Number: pos.Taken})
	}
}
