package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/libp2p/go-libp2p/core/network"
)

// session is one device stream on one document.
type session struct {
	device string
	st     network.Stream
	ctx    context.Context
	cancel context.CancelFunc
	sent   uint64 // next version to stream (hub.mu)
	// alarmGen is the hub's last alarm this session sent (hub.mu).
	alarmGen uint64
	// The member list last sent, and when it was looked up (stream only).
	membersSent []link.MemberInfo
	membersAt   time.Time
	// presGen is the hub's last presence set this session sent, at
	// presSent (hub.mu).
	presGen  uint64
	presSent time.Time

	wmu sync.Mutex
}

func (se *session) end() { se.cancel() }

func (se *session) write(m *link.Message) error {
	se.wmu.Lock()
	defer se.wmu.Unlock()
	_, err := link.WriteMessage(se.st, m)
	return err
}

func (se *session) refuse(code link.RefuseCode, err error) {
	_ = se.write(&link.Message{Kind: link.KindRefuse, Code: code, Reason: err.Error()})
}

// handle serves one device stream.
func (s *Server) handle(st network.Stream) {
	s.wg.Add(1)
	defer s.wg.Done()
	defer st.Close()
	r := bufio.NewReader(st)
	se := &session{st: st}
	se.ctx, se.cancel = context.WithCancel(s.ctx)
	defer se.cancel()

	_ = st.SetReadDeadline(s.now().Add(s.params.HelloTimeout))
	m, _, err := link.ReadMessage(r, link.MaxHelloFrame)
	if err == nil && m.Kind != link.KindHello {
		err = fmt.Errorf("%w: first message of kind %d", link.ErrMalformed, m.Kind)
	}
	if err != nil {
		s.refusals.Refuse(st.Conn().RemotePeer().String(), "hello", err)
		_ = st.Reset()
		return
	}
	_ = st.SetReadDeadline(time.Time{})
	if code, err := s.authorize(st.Conn().RemotePeer(), m.Hello); err != nil {
		s.refusals.Refuse(st.Conn().RemotePeer().String(), "unauthorized", err)
		se.refuse(code, err)
		return
	}
	se.device = m.Hello.Device
	hb, err := s.hubFor(m.Hello.Doc)
	if err != nil {
		code := link.RefuseInternal
		if errors.Is(err, cloneservice.ErrUnknownDoc) {
			code = link.RefuseUnknownDoc
		}
		se.refuse(code, err)
		return
	}
	b, err := hb.open(se, m.Hello.State)
	if err != nil {
		se.refuse(refuseCode(err), err)
		return
	}
	defer hb.leave(se)
	if err := se.write(&link.Message{Kind: link.KindBundle, Bundle: &b}); err != nil {
		return
	}
	go func() {
		<-se.ctx.Done()
		_ = st.Reset() // unblocks the reader when the session is replaced
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer se.cancel()
		se.stream(hb)
	}()
	for {
		m, _, err := link.ReadMessage(r, s.params.MaxFrame)
		if err != nil {
			return
		}
		if m.Kind == link.KindSelection {
			hb.selection(se, m.Version, m.Sel)
			continue
		}
		if m.Kind != link.KindEdit {
			se.refuse(link.RefuseState, fmt.Errorf("%w: unexpected message kind %d", jupiter.ErrProtocol, m.Kind))
			return
		}
		if err := hb.edit(se.device, *m.Edit); err != nil {
			if se.ctx.Err() == nil {
				se.refuse(refuseCode(err), err)
			}
			return
		}
	}
}

// stream sends the session every durable history entry in order, the
// alarms and the other members' carets.
func (se *session) stream(hb *hub) {
	for {
		if err := se.sendMembers(hb); err != nil {
			return
		}
		b, err := hb.next(se)
		if err != nil {
			se.refuse(refuseCode(err), err)
			return
		}
		if b.alarm != nil {
			if err := se.write(b.alarm); err != nil {
				return
			}
		}
		for _, e := range b.entries {
			m := &link.Message{Kind: link.KindAck, Ack: e.Counter}
			if e.Device != se.device {
				op := e.Op
				m = &link.Message{Kind: link.KindOp, Op: &op, Seq: e.Seq, Author: e.Author}
			}
			if err := se.write(m); err != nil {
				return
			}
		}
		if b.pres != nil {
			if err := se.write(b.pres); err != nil {
				return
			}
		}
		if !se.wait(b) {
			return
		}
	}
}

// wait waits for more to stream, or for a presence set held back to be
// due; false: the session ended.
func (se *session) wait(b batch) bool {
	var held <-chan time.Time
	if b.presWait > 0 {
		t := time.NewTimer(b.presWait)
		defer t.Stop()
		held = t.C
	}
	select {
	case <-se.ctx.Done():
		return false
	case <-b.more:
	case <-held:
	}
	return true
}

func refuseCode(err error) link.RefuseCode {
	switch {
	case errors.Is(err, jupiter.ErrEpoch), errors.Is(err, jupiter.ErrBase),
		errors.Is(err, jupiter.ErrProtocol), errors.Is(err, jupiter.ErrOp):
		return link.RefuseState
	case errors.Is(err, cloneservice.ErrUnknownDoc):
		return link.RefuseUnknownDoc
	}
	return link.RefuseInternal
}
