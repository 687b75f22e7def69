package undo_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/device/undo"
	"github.com/clone2clone/c2c/docsync/ot"
)

// Character provenance: member i inserts only code points from its own
// range (plane 2+i), each one fresh, so a code point names its author.
// The clone's own edits (another member editing through the clone, no
// undo) come from the range of member -1.
func runeOf(member, n int) rune { return rune(0x30000 + (member+1)<<16 + n) }
func author(r rune) int         { return int(r-0x30000)>>16 - 1 }

type member struct {
	id    int
	name  string
	c     *jupiter.Client
	stack *undo.Stack
	fresh int
	up    []jupiter.Edit // FIFO, as on the link stream
	down  []downMsg
	sent  uint64 // next server version to stream
}

type downMsg struct {
	op  *ot.Op
	ack uint64
}

type world struct {
	t     *testing.T
	rng   *rand.Rand
	srv   *jupiter.Server
	ms    []*member
	fresh int // the clone's own inserts
	undos int
}

func (w *world) pump() {
	for _, m := range w.ms {
		es, err := w.srv.Entries(m.sent, w.srv.Version())
		if err != nil {
			w.t.Fatal(err)
		}
		for _, e := range es {
			if e.Device == m.name {
				m.down = append(m.down, downMsg{ack: e.Counter})
			} else {
				op := e.Op
				m.down = append(m.down, downMsg{op: &op})
			}
		}
		m.sent = w.srv.Version()
	}
}

func (w *world) freshText(member int, counter *int) string {
	n := 1 + w.rng.IntN(3)
	rs := make([]rune, n)
	for i := range rs {
		rs[i] = runeOf(member, *counter)
		*counter++
	}
	return string(rs)
}

func (w *world) randomOp(text string, member int, counter *int) ot.Op {
	n := len([]rune(text))
	pos := w.rng.IntN(n + 1)
	del, ins := 0, ""
	if n > pos && w.rng.IntN(3) == 0 {
		del = 1 + w.rng.IntN(min(5, n-pos))
	}
	if del == 0 || w.rng.IntN(2) == 0 {
		ins = w.freshText(member, counter)
	}
	op, err := ot.FromPatch(n, pos, del, ins)
	if err != nil {
		w.t.Fatal(err)
	}
	return op
}

// local applies op as m's own edit and queues what goes on the link.
func (w *world) local(m *member, op ot.Op) {
	e, err := m.c.Local(op)
	if err != nil {
		w.t.Fatalf("%s local: %v", m.name, err)
	}
	if e != nil {
		m.up = append(m.up, *e)
	}
}

// deleted returns the code points op deletes from text.
func deleted(text string, op ot.Op) []rune {
	rs, i := []rune(text), 0
	var out []rune
	for _, c := range op.Comps {
		switch c.Kind {
		case ot.Retain:
			i += c.N
		case ot.Delete:
			out = append(out, rs[i:i+c.N]...)
			i += c.N
		}
	}
	return out
}

func (w *world) undoRedo(m *member, redo bool) {
	pop, record := m.stack.Undo, m.stack.Undone
	if redo {
		pop, record = m.stack.Redo, m.stack.Redone
	}
	op, err := pop()
	if err != nil {
		return // nothing to undo or redo
	}
	before := m.c.Text()
	if !redo {
		w.undos++
		for _, r := range deleted(before, op) {
			if author(r) != m.id {
				w.t.Fatalf("%s's undo %v deletes %U, inserted by member %d, from %q", m.name, op, r, author(r), before)
			}
		}
	}
	w.local(m, op)
	if err := record(op, before); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) step() {
	m := w.ms[w.rng.IntN(len(w.ms))]
	switch k := w.rng.IntN(100); {
	case k < 22:
		before := m.c.Text()
		op := w.randomOp(before, m.id, &m.fresh)
		w.local(m, op)
		record := m.stack.Local
		if w.rng.IntN(3) == 0 {
			record = m.stack.Join
		}
		if err := record(op, before); err != nil {
			w.t.Fatal(err)
		}
	case k < 32:
		w.undoRedo(m, false)
	case k < 37:
		w.undoRedo(m, true)
	case k < 42:
		if err := w.srv.Remote(w.randomOp(w.srv.Text(), -1, &w.fresh)); err != nil {
			w.t.Fatal(err)
		}
		w.pump()
	case k < 70:
		w.serverRecv(m)
	default:
		w.clientRecv(m)
	}
}

func (w *world) serverRecv(m *member) {
	if len(m.up) == 0 {
		return
	}
	e := m.up[0]
	m.up = m.up[1:]
	if _, _, err := w.srv.Receive(m.name, e); err != nil {
		w.t.Fatalf("server receive from %s: %v", m.name, err)
	}
	w.pump()
}

func (w *world) clientRecv(m *member) {
	if len(m.down) == 0 {
		return
	}
	d := m.down[0]
	m.down = m.down[1:]
	if d.op != nil {
		applied, err := m.c.Remote(*d.op)
		if err != nil {
			w.t.Fatalf("%s remote: %v", m.name, err)
		}
		if err := m.stack.Remote(applied); err != nil {
			w.t.Fatalf("%s undo stack: %v", m.name, err)
		}
		return
	}
	next, err := m.c.Ack(d.ack)
	if err != nil {
		w.t.Fatalf("%s ack: %v", m.name, err)
	}
	if next != nil {
		m.up = append(m.up, *next)
	}
}

func (w *world) drain() {
	for busy := true; busy; {
		busy = false
		for _, m := range w.ms {
			for len(m.up) > 0 {
				w.serverRecv(m)
				busy = true
			}
			for len(m.down) > 0 {
				w.clientRecv(m)
				busy = true
			}
		}
	}
}

// TestUndoPropertyConcurrent: members edit, undo and redo concurrently on
// the real Jupiter cores; every undo deletes only its member's own code
// points, and once every message is delivered all members and the clone
// hold the same text.
func TestUndoPropertyConcurrent(t *testing.T) {
	undos := 0
	for seed := uint64(1); seed <= 300; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			w := &world{t: t, rng: rand.New(rand.NewPCG(seed, 18)), srv: jupiter.NewServer(seed, "", jupiter.DefaultParams())}
			for i := range 2 + int(seed%3) {
				m := &member{id: i, name: fmt.Sprint("m", i), c: jupiter.NewClient(), stack: undo.New(0)}
				h := m.c.Connect()
				b, err := w.srv.Bundle(m.name, h)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := m.c.Resume(b); err != nil {
					t.Fatal(err)
				}
				m.sent = b.To
				w.ms = append(w.ms, m)
			}
			for range 400 {
				w.step()
			}
			// Undo everything left, with edits still in flight.
			for _, m := range w.ms {
				for m.stack.CanUndo() {
					w.undoRedo(m, false)
					if w.rng.IntN(2) == 0 {
						w.step()
					}
				}
			}
			w.drain()
			for _, m := range w.ms {
				if got := m.c.Text(); got != w.srv.Text() {
					t.Fatalf("%s has %q, the clone %q", m.name, got, w.srv.Text())
				}
			}
			undos += w.undos
		})
	}
	if undos < 1000 {
		t.Fatalf("only %d undos ran", undos)
	}
}
