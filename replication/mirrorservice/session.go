package mirrorservice

import (
	"bufio"
	"sync"

	"github.com/clone2clone/c2c/replication/syncwire"
	"github.com/libp2p/go-libp2p/core/network"
)

// session is one authorized device stream: a writer goroutine drains out,
// a reader goroutine hands each frame to the loop, in order.
type session struct {
	s    *Server
	st   network.Stream
	r    *bufio.Reader
	out  chan *syncwire.Message
	once sync.Once
	done chan struct{}
}

func newSession(s *Server, st network.Stream, r *bufio.Reader) *session {
	return &session{s: s, st: st, r: r, out: make(chan *syncwire.Message, s.params.SendQueue), done: make(chan struct{})}
}

// start runs the session's goroutines (called on the loop once it is current).
func (x *session) start() {
	x.s.wg.Add(2)
	go x.write()
	go x.read()
}

// send queues m; a device that cannot keep up is dropped (it says Hello
// again and is brought up to date from the mirror's position).
func (x *session) send(m *syncwire.Message) {
	select {
	case <-x.done:
	case x.out <- m:
	default:
		x.s.log.Warn("mirror: device too slow, dropping its session")
		x.close()
	}
}

func (x *session) close() {
	x.once.Do(func() {
		close(x.done)
		_ = x.st.Reset()
	})
}

func (x *session) write() {
	defer x.s.wg.Done()
	for {
		select {
		case <-x.done:
			return
		case <-x.s.ctx.Done():
			x.close()
			return
		case m := <-x.out:
			if _, err := syncwire.WriteFrame(x.st, m); err != nil {
				x.close()
				return
			}
			if m.Kind == syncwire.KindRefuse {
				_ = x.st.CloseWrite()
				x.close()
				return
			}
		}
	}
}

func (x *session) read() {
	defer x.s.wg.Done()
	defer x.close()
	for {
		m, n, err := syncwire.ReadFrame(x.r, syncwire.MaxFrame)
		if err != nil {
			select {
			case <-x.done:
			default:
				x.s.log.Debug("mirror: device stream ended", "err", err)
			}
			_ = x.s.do(x.s.ctx, func() { x.s.ended(x) })
			return
		}
		if err := x.s.do(x.s.ctx, func() { x.s.frame(x, m, n) }); err != nil {
			return
		}
	}
}
