package replication_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/notes"
)

// The harness runs devices and their mirrors in virtual time, one
// millisecond a step, over FIFO links whose every message takes a random
// delay of 0 to t_max (never overtaking the one before it).

type delivery struct {
	at replication.Time
	fn func(at replication.Time)
}

type link struct {
	rng  *rand.Rand
	tmax int64
	last replication.Time
	q    []delivery
	sent int // bytes
}

func (l *link) send(now replication.Time, size int, fn func(at replication.Time)) {
	at := max(l.last, now+replication.Time(l.rng.Int64N(l.tmax+1)))
	l.last = at
	l.sent += size
	l.q = append(l.q, delivery{at, fn})
}

func (l *link) deliver(now replication.Time) {
	for len(l.q) > 0 && l.q[0].at <= now {
		d := l.q[0]
		l.q = l.q[1:]
		d.fn(d.at)
	}
}

// factoryKey signs the test templates.
var factoryKey = ed25519.NewKeyFromSeed(make([]byte, 32))

// pair is one phone and its mirror.
type pair struct {
	t         *testing.T
	name      string
	rng       *rand.Rand
	params    replication.Params
	dev       *replication.Device
	mir       *replication.Mirror
	up, down  *link
	devHashes map[uint64]replication.Hash
	batches   map[uint64]*replication.Batch
	pendNet   []replication.NetInput // delivered, not yet consumed
	pendUser  [][2]string            // refused while frozen, retried
	replayed  []replication.Replayed
	notices   []replication.Notice
	refusals  []error

	// fault hooks
	dropBatch  func(number uint64) bool
	corruptNet func(in *replication.NetInput)
}

func notesRegistry(t testing.TB) *replication.Registry {
	reg := replication.NewRegistry()
	if err := notes.Register(reg); err != nil {
		t.Fatal(err)
	}
	// A second instance of the same code under another name: the inbox of
	// network inputs.
	if err := reg.Register("inbox", func() replication.App { return notes.New() }); err != nil {
		t.Fatal(err)
	}
	return reg
}

type pairOpts struct {
	params     replication.Params
	devApps    *replication.AppSet
	mirApps    *replication.AppSet
	enrol      bool
	start      replication.Time
	mirrorRegs *replication.Registry
}

func newPair(t testing.TB, name string, seed uint64, o pairOpts) *pair {
	tt, _ := t.(*testing.T)
	rng := rand.New(rand.NewPCG(seed, 7))
	seedKey := make([]byte, 32)
	for i := range seedKey {
		seedKey[i] = byte(rng.Uint32())
	}
	key := ed25519.NewKeyFromSeed(seedKey)
	id, _ := replication.DeviceIDOf(key.Public().(ed25519.PublicKey))
	if o.params == (replication.Params{}) {
		o.params = replication.DefaultParams()
	}
	reg := notesRegistry(t)
	if o.devApps == nil {
		o.devApps = mustSet(t, reg)
	}
	if o.mirApps == nil {
		mreg := o.mirrorRegs
		if mreg == nil {
			mreg = reg
		}
		o.mirApps = mustSet(t, mreg)
	}
	dev, err := replication.NewDevice(replication.DeviceConfig{Key: key, Epoch: 1, Apps: o.devApps, Start: o.start, Params: o.params})
	if err != nil {
		t.Fatal(err)
	}
	mir, err := replication.NewMirror(replication.MirrorConfig{Device: id, Epoch: 1, Apps: o.mirApps,
		Params: o.params, Enrol: o.enrol, Now: o.start})
	if err != nil {
		t.Fatal(err)
	}
	tmax := o.params.MaxDelay.Milliseconds()
	return &pair{t: tt, name: name, rng: rng, params: o.params, dev: dev, mir: mir,
		up:        &link{rng: rand.New(rand.NewPCG(seed, 8)), tmax: tmax},
		down:      &link{rng: rand.New(rand.NewPCG(seed, 9)), tmax: tmax},
		devHashes: map[uint64]replication.Hash{}, batches: map[uint64]*replication.Batch{}}
}

func mustSet(t testing.TB, reg *replication.Registry) *replication.AppSet {
	s, err := replication.NewAppSet(reg, "notes", "inbox")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func notesOf(s *replication.AppSet, name string) *notes.App {
	a, _ := s.App(name)
	if f, ok := a.(*flaky); ok {
		return f.App
	}
	return a.(*notes.App)
}

// batchWith returns the number of the device's batch that holds input seq.
func (p *pair) batchWith(seq uint64) uint64 {
	for n, b := range p.batches {
		if b.FirstSeq <= seq && seq < b.NextSeq() {
			return n
		}
	}
	p.fail("no batch holds seq %d", seq)
	return 0
}

// step runs one millisecond: deliveries, then inputs, then ticks, then the
// outputs of both sides onto the links.
func (p *pair) step(now replication.Time, userProb, netProb float64) {
	p.up.deliver(now)
	p.down.deliver(now)
	if !p.dev.Frozen() {
		for len(p.pendNet) > 0 {
			if _, err := p.dev.Network(now, p.pendNet[0]); err != nil && !errors.Is(err, notes.ErrBadOp) {
				p.fail("network input %d: %v", p.pendNet[0].NetSeq, err)
			}
			p.pendNet = p.pendNet[1:]
		}
		for len(p.pendUser) > 0 {
			p.input(now, p.pendUser[0][0], []byte(p.pendUser[0][1]))
			p.pendUser = p.pendUser[1:]
		}
	}
	if p.rng.Float64() < userProb {
		app, payload := p.randomUserInput()
		p.input(now, app, payload)
	}
	if p.rng.Float64() < netProb {
		p.relay(now, "inbox", p.randomNetPayload())
	}
	p.dev.Tick(now)
	p.mir.Tick(now)
	p.flush(now)
}

func (p *pair) input(now replication.Time, app string, payload []byte) {
	_, err := p.dev.Input(now, app, payload)
	switch {
	case errors.Is(err, replication.ErrFrozen):
		p.pendUser = append(p.pendUser, [2]string{app, string(payload)})
	case err != nil && !errors.Is(err, notes.ErrBadOp):
		p.fail("user input: %v", err)
	}
}

func (p *pair) relay(now replication.Time, app string, payload []byte) {
	in, err := p.mir.Relay(app, payload)
	if err != nil {
		p.fail("relay: %v", err)
	}
	in.Payload = append([]byte(nil), in.Payload...) // the device's own copy
	if p.corruptNet != nil {
		p.corruptNet(&in)
	}
	p.down.send(now, len(in.Payload)+8, func(replication.Time) { p.pendNet = append(p.pendNet, in) })
}

// flush moves both sides' Ready output onto the links.
func (p *pair) flush(now replication.Time) {
	dr := p.dev.Ready()
	p.dev.Advance()
	for _, b := range dr.Batches {
		p.devHashes[b.Number] = b.StateHash
		p.batches[b.Number] = b
	}
	nb, dropping := 0, false
	for _, msg := range dr.Send {
		msg := msg
		if msg.Kind == replication.MsgBatch {
			num := dr.Batches[nb].Number
			nb++
			dropping = p.dropBatch != nil && p.dropBatch(num)
		}
		if dropping && msg.Kind != replication.MsgOffer {
			continue // a lost batch goes with its payload chunks
		}
		switch msg.Kind {
		case replication.MsgBatch:
			p.up.send(now, len(msg.Data), func(at replication.Time) { p.note(p.mir.HandleBatch(at, msg.Data)) })
		case replication.MsgChunk:
			p.up.send(now, len(msg.Data), func(at replication.Time) { p.note(p.mir.HandleChunk(at, msg.Data)) })
		case replication.MsgOffer:
			p.up.send(now, len(msg.Data), func(at replication.Time) { p.note(p.mir.HandleOffer(at, msg.Data)) })
		}
	}
	mr := p.mir.Ready()
	p.mir.Advance()
	p.replayed = append(p.replayed, mr.Replayed...)
	p.notices = append(p.notices, mr.Notices...)
	for _, r := range mr.Replayed {
		p.checkReplay(r)
	}
	if req := mr.Resync; req != nil {
		p.down.send(now, 16, func(at replication.Time) {
			if err := p.dev.HandleResync(at, *req); err != nil {
				p.fail("device resync: %v", err)
			}
		})
	}
	if len(mr.Want) > 0 {
		want := mr.Want
		p.down.send(now, 32*len(want), func(at replication.Time) {
			for _, h := range want {
				c, err := p.dev.Chunk(h)
				if err != nil {
					p.fail("device chunk %v: %v", h, err)
				}
				p.up.send(at, len(c), func(at replication.Time) { p.note(p.mir.HandleChunk(at, c)) })
			}
		})
	}
	if done := mr.Done; done != nil {
		p.down.send(now, 16, func(at replication.Time) {
			if err := p.dev.HandleDone(at, *done); err != nil {
				p.fail("device done: %v", err)
			}
		})
	}
}

func (p *pair) note(err error) {
	if err != nil {
		p.refusals = append(p.refusals, err)
	}
}

func (p *pair) checkReplay(r replication.Replayed) {
	want, ok := p.devHashes[r.Number]
	if !ok {
		p.fail("mirror replayed batch %d the device never closed", r.Number)
	}
	if r.Match != (r.StateHash == want) {
		p.fail("batch %d: Match %v but hashes %v / %v", r.Number, r.Match, r.StateHash, want)
	}
	if bound := p.params.SyncInterval + p.params.MaxDelay; r.MaxLag > bound {
		p.fail("batch %d: lag %v over t_syn_int+t_max %v", r.Number, r.MaxLag, bound)
	}
}

func (p *pair) fail(format string, args ...any) {
	p.t.Helper()
	p.t.Fatalf("%s: %s", p.name, fmt.Sprintf(format, args...))
}

// settle runs without new inputs until every batch is replayed and no
// resync runs.
func (p *pair) settle(now replication.Time) replication.Time {
	end := now + replication.Time((2*p.params.SyncInterval+2*p.params.MaxDelay+p.params.ResyncRetry)/time.Millisecond)
	for ; now < end; now++ {
		p.step(now, 0, 0)
	}
	if p.dev.Frozen() || p.mir.Resyncing() {
		p.fail("still resyncing after settling")
	}
	return now
}
