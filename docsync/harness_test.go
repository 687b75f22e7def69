package docsync_test

import (
	"crypto/ed25519"
	"math/rand/v2"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// world is a hand-driven document: an honest sequencer and clones whose
// outputs the test routes explicitly.
type world struct {
	t      *testing.T
	doc    docsync.DocID
	seqKey ed25519.PrivateKey
	seq    *sequencer.Memory
	rng    *rand.Rand
	outbox []*docsync.Envelope // submitted, not yet ordered
	clones []*clone
}

type clone struct {
	id      *docsync.Identity
	r       *docsync.Replica
	entries []*docsync.Entry
	pending *docsync.Pending
	events  []docsync.Event
	updates []docsync.Update
	fetch   []docsync.FetchRange
}

type seededReader struct{ r *rand.Rand }

func (s seededReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	return len(p), nil
}

func newWorld(t *testing.T) *world {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	w := &world{t: t, rng: rng}
	for i := range w.doc {
		w.doc[i] = byte(i)
	}
	_, w.seqKey, _ = ed25519.GenerateKey(seededReader{rng})
	w.seq = sequencer.NewMemory(w.doc, w.seqKey)
	return w
}

func (w *world) seqPub() ed25519.PublicKey { return w.seqKey.Public().(ed25519.PublicKey) }

func (w *world) newClone(create bool) *clone {
	w.t.Helper()
	id, err := docsync.NewIdentity(seededReader{w.rng})
	if err != nil {
		w.t.Fatal(err)
	}
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: id, Rand: seededReader{w.rng}}
	var r *docsync.Replica
	if create {
		r, err = docsync.Create(cfg)
	} else {
		r, err = docsync.New(cfg)
	}
	if err != nil {
		w.t.Fatal(err)
	}
	c := &clone{id: id, r: r}
	w.clones = append(w.clones, c)
	w.drain(c)
	return c
}

// drain collects a clone's Ready output.
func (w *world) drain(c *clone) {
	rd := c.r.Ready()
	c.entries = append(c.entries, rd.Entries...)
	if rd.Pending != nil {
		c.pending = rd.Pending
	}
	c.events = append(c.events, rd.Events...)
	c.updates = append(c.updates, rd.Updates...)
	c.fetch = append(c.fetch, rd.Fetch...)
	w.outbox = append(w.outbox, rd.Submit...)
	c.r.Advance()
}

// order has the sequencer order every submitted envelope and returns the entries.
func (w *world) order() []*docsync.Entry {
	var out []*docsync.Entry
	for len(w.outbox) > 0 {
		env := w.outbox[0]
		w.outbox = w.outbox[1:]
		for _, d := range w.seq.Submit(env) {
			out = append(out, d.Entry)
		}
	}
	return out
}

// deliver hands entries to every clone.
func (w *world) deliver(es []*docsync.Entry) {
	for _, c := range w.clones {
		for _, e := range es {
			_ = c.r.HandleEntry(e)
			w.drain(c)
		}
	}
}

// settle orders and delivers until nothing is submitted.
func (w *world) settle() {
	for len(w.outbox) > 0 {
		w.deliver(w.order())
	}
}

func (w *world) add(admin *clone, role docsync.Role) *clone {
	w.t.Helper()
	c := w.newClone(false)
	w.deliver(w.seq.Entries()) // catch the newcomer up
	if err := admin.r.AddMember(c.r.ID(), c.id.HPKEPublic(), role); err != nil {
		w.t.Fatal(err)
	}
	w.drain(admin)
	w.settle()
	return c
}

// insert proposes inserting s at code point pos on c.
func (w *world) insert(c *clone, pos int, s string) error {
	op, err := ot.FromPatch(c.r.LocalLen(), pos, 0, s)
	if err != nil {
		w.t.Fatal(err)
	}
	err = c.r.Propose(op)
	w.drain(c)
	return err
}

// signEntry orders env at seq after prev with the sequencer key, unchecked.
func (w *world) signEntry(seq uint64, prev docsync.Hash, env *docsync.Envelope) *docsync.Entry {
	e := &docsync.Entry{Head: docsync.Head{Doc: w.doc, Seq: seq, ChainHash: docsync.ChainHash(prev, env.Digest())}, Envelope: *env}
	e.Head.Sign(w.seqKey)
	return e
}
