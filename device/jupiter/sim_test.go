package jupiter

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/clone2clone/c2c/docsync/ot"
)

// message is what travels on a connection: up (Hello, Edit) or down
// (Bundle, Op, Ack).
type message struct {
	hello  *Hello
	edit   *Edit
	bundle *Bundle
	op     *ot.Op
	ack    uint64
}

type conn struct {
	up, down []message
	sent     uint64 // server: next version to stream (after the bundle)
	streamed bool   // server: bundle sent, stream entries from sent
	live     bool   // the client still reads this connection
}

type simDevice struct {
	name  string
	c     *Client
	conns []*conn // all connections ever (old ones may still carry edits up)
	cur   *conn
}

type sim struct {
	t    *testing.T
	rng  *rand.Rand
	srv  *Server
	devs []*simDevice
}

func randomOp(rng *rand.Rand, n int) ot.Op {
	pos := rng.IntN(n + 1)
	del := 0
	if n > pos && rng.IntN(3) == 0 {
		del = 1 + rng.IntN(min(4, n-pos))
	}
	ins := ""
	if del == 0 || rng.IntN(2) == 0 {
		ins = string(rune('a'+rng.IntN(26))) + string(rune('A'+rng.IntN(26)))
	}
	op, err := ot.FromPatch(n, pos, del, ins)
	if err != nil {
		panic(err)
	}
	return op
}

// pump streams new history entries to every connection that got its bundle.
func (s *sim) pump() {
	for _, d := range s.devs {
		for _, cn := range d.conns {
			if !cn.streamed || !cn.live {
				continue
			}
			es, err := s.srv.Entries(cn.sent, s.srv.Version())
			if err != nil {
				s.t.Fatal(err)
			}
			for _, e := range es {
				if e.Device == d.name {
					cn.down = append(cn.down, message{ack: e.Counter})
				} else {
					op := e.Op
					cn.down = append(cn.down, message{op: &op})
				}
			}
			cn.sent = s.srv.Version()
		}
	}
}

func (s *sim) connect(d *simDevice) {
	if d.cur != nil {
		d.cur.live = false
		d.cur.down = nil
	}
	h := d.c.Connect()
	cn := &conn{live: true, up: []message{{hello: &h}}}
	d.conns = append(d.conns, cn)
	d.cur = cn
}

func (s *sim) send(d *simDevice, e *Edit) {
	if e != nil {
		cp := *e
		d.cur.up = append(d.cur.up, message{edit: &cp})
	}
}

// serverRecv delivers the next up message of cn.
func (s *sim) serverRecv(d *simDevice, cn *conn) {
	m := cn.up[0]
	cn.up = cn.up[1:]
	switch {
	case m.hello != nil:
		if !cn.live {
			return
		}
		b, err := s.srv.Bundle(d.name, *m.hello)
		if err != nil {
			s.t.Fatalf("bundle for %s: %v", d.name, err)
		}
		cn.down = append(cn.down, message{bundle: &b})
		cn.sent, cn.streamed = b.To, true
	case m.edit != nil:
		if _, _, err := s.srv.Receive(d.name, *m.edit); err != nil {
			s.t.Fatalf("receive from %s: %v", d.name, err)
		}
	}
	s.pump()
}

func (s *sim) clientRecv(d *simDevice) {
	m := d.cur.down[0]
	d.cur.down = d.cur.down[1:]
	var e *Edit
	var err error
	switch {
	case m.bundle != nil:
		e, err = d.c.Resume(*m.bundle)
	case m.op != nil:
		_, err = d.c.Remote(*m.op)
	default:
		e, err = d.c.Ack(m.ack)
	}
	if err != nil {
		s.t.Fatalf("%s: %v", d.name, err)
	}
	s.send(d, e)
}

func (s *sim) step() {
	d := s.devs[s.rng.IntN(len(s.devs))]
	switch k := s.rng.IntN(100); {
	case k < 25:
		e, err := d.c.Local(randomOp(s.rng, d.c.Len()))
		if err != nil {
			s.t.Fatal(err)
		}
		if e != nil {
			s.send(d, e)
		}
	case k < 35:
		if err := s.srv.Remote(randomOp(s.rng, s.srv.Len())); err != nil {
			s.t.Fatal(err)
		}
		s.pump()
	case k < 65:
		var ready []*conn
		for _, cn := range d.conns {
			if len(cn.up) > 0 {
				ready = append(ready, cn)
			}
		}
		if len(ready) > 0 {
			s.serverRecv(d, ready[s.rng.IntN(len(ready))])
		}
	case k < 97:
		if len(d.cur.down) > 0 {
			s.clientRecv(d)
		}
	default:
		s.connect(d)
	}
}

// drain delivers everything until all clients are idle and synchronized.
func (s *sim) drain() {
	for busy := true; busy; {
		busy = false
		for _, d := range s.devs {
			for _, cn := range d.conns {
				for len(cn.up) > 0 {
					s.serverRecv(d, cn)
					busy = true
				}
			}
			for len(d.cur.down) > 0 {
				s.clientRecv(d)
				busy = true
			}
		}
	}
}

func TestConvergeUnderReorderingAndReconnects(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, 7)), srv: NewServer(seed*31+1, "hello", DefaultParams())}
			for i := range 3 {
				d := &simDevice{name: fmt.Sprintf("d%d", i), c: NewClient()}
				s.devs = append(s.devs, d)
				s.connect(d)
			}
			for range 400 {
				s.step()
			}
			s.drain()
			want := s.srv.Text()
			for _, d := range s.devs {
				if got := d.c.Text(); got != want {
					t.Fatalf("%s: %q, server %q", d.name, got, want)
				}
				if d.c.Inflight() != nil || d.c.Buffered() {
					t.Fatalf("%s: edits left pending", d.name)
				}
				if d.c.Version() != s.srv.Version() {
					t.Fatalf("%s at %d, server %d", d.name, d.c.Version(), s.srv.Version())
				}
			}
		})
	}
}
