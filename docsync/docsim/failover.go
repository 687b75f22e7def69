package docsim

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// Failover is the "failover under load" scenario: Writers clones (the
// admin among them) edit on every tick while the admin moves the document
// from the first sequencer to a second one as a planned handover at
// MoveAt, the second sequencer stalls (drops everything) at StallAt, and
// StallTicks later the admin's clone, as its stall alarm would, makes a
// third, standby sequencer take over. At CrashAt a writer is killed and
// restored from what it persisted. With Conflict, messages to the admin's
// clone are held from 3 ticks before the stall until its takeover: the
// other members commit entries it never saw, so the takeover continues
// from an older head than theirs (and, once the held messages arrive,
// than its own), and they follow it by rolling back.
//
// Every edit a writer's replica accepts (an acknowledged edit) inserts one
// token rune unique to it, right after the writer's previous token, and
// some edits also delete a non-token rune: so in the final text each
// acknowledged edit's token appears exactly once, and each writer's tokens
// appear in the order it typed them, unless an edit was lost, duplicated
// or reordered.
type Failover struct {
	Seed       uint64
	Writers    int
	Ticks      int
	EditProb   float64
	MoveAt     int
	StallAt    int
	StallTicks int
	CrashAt    int // 0: no crash
	Conflict   bool
	Net        NetParams
}

// DefaultFailover returns the scenario of seed with 4 writers.
func DefaultFailover(seed uint64) Failover {
	return Failover{Seed: seed, Writers: 4, Ticks: 160, EditProb: 0.5, MoveAt: 30, StallAt: 70,
		StallTicks: 25, CrashAt: 110, Net: DefaultNetParams()}
}

// FailoverResult is what a Failover run produced.
type FailoverResult struct {
	Net         *Net
	Acked       [][]rune // per writer, the tokens of its acknowledged edits in order
	Moves       []docsync.Move
	Standby     *sequencer.Memory
	Takeover    int // tick the takeover was sent
	MovedEvents int // EventMoved seen by all clones together
	Rollbacks   int // takeovers followed by rolling back
}

// stallable is a sequencer that can stop answering: while stalled it
// orders and serves nothing (a withholding sequencer).
type stallable struct {
	sequencer.Node
	stalled bool
}

func (s *stallable) Submit(env *docsync.Envelope) []sequencer.Delivery {
	if s.stalled {
		return nil
	}
	return s.Node.Submit(env)
}

func (s *stallable) Fetch(who docsync.MemberID, from, to uint64) []*docsync.Entry {
	if s.stalled {
		return nil
	}
	return s.Node.Fetch(who, from, to)
}

// incoming is a sequencer a document moves to: until a member hands it the
// history (adopt) it holds what it is sent; then it orders it.
type incoming struct {
	doc   docsync.DocID
	key   ed25519.PrivateKey
	mem   *sequencer.Memory
	early []*docsync.Envelope
	// history returns the log a member hands over with a takeover.
	history func() []*docsync.Entry
}

func (s *incoming) adopt(entries []*docsync.Entry) ([]sequencer.Delivery, error) {
	if s.mem != nil {
		return nil, nil
	}
	ref, err := sequencer.Adopt(s.doc, s.key, entries)
	if err != nil {
		return nil, err
	}
	s.mem = sequencer.NewMemoryFrom(ref, entries)
	var out []sequencer.Delivery
	for _, env := range s.early {
		out = append(out, s.mem.Submit(env)...)
	}
	s.early = nil
	return out, nil
}

func (s *incoming) Submit(env *docsync.Envelope) []sequencer.Delivery {
	if s.mem == nil {
		if op, ok := docsync.MoveOf(env); ok && op.Takeover && s.history != nil {
			// The admin's clone sends its log with the takeover.
			if _, err := s.adopt(s.history()[:env.Parent]); err != nil {
				return nil
			}
			return s.mem.Submit(env)
		}
		s.early = append(s.early, env)
		return nil
	}
	return s.mem.Submit(env)
}

func (s *incoming) Fetch(who docsync.MemberID, from, to uint64) []*docsync.Entry {
	if s.mem == nil {
		return nil
	}
	return s.mem.Fetch(who, from, to)
}

func (s *incoming) Head(who docsync.MemberID) docsync.Head {
	if s.mem == nil {
		return docsync.Head{Doc: s.doc}
	}
	return s.mem.Head(who)
}

func newIncoming(n *Net) *incoming {
	_, key, _ := ed25519.GenerateKey(readerOf(n.Rand))
	s := &incoming{doc: n.Doc, key: key}
	n.AddSequencer(key.Public().(ed25519.PublicKey), s)
	return s
}

// token returns the token of writer w's k-th edit (a private-use rune).
func token(w, k int) rune { return rune(0xF0000 + w*8192 + k) }

func isToken(r rune) bool { return r >= 0xF0000 && r <= 0xFFFFD }

// loadedEdit returns writer w's next edit on text: its token after its
// previous one, and sometimes a deleted non-token rune.
func loadedEdit(n *Net, text []rune, prev, tok rune) ot.Op {
	pos := 0
	if i := slices.Index(text, prev); prev != 0 && i >= 0 {
		pos = i + 1
	}
	if n.Rand.IntN(3) == 0 {
		if d := n.Rand.IntN(len(text) + 1); d < len(text) && !isToken(text[d]) {
			var op ot.Op
			if d < pos {
				op.Retain(d).Delete(1).Retain(pos - d - 1).Insert(string(tok) + "ab").Retain(len(text) - pos)
			} else {
				op.Retain(pos).Insert(string(tok) + "ab").Retain(d - pos).Delete(1).Retain(len(text) - d - 1)
			}
			return op
		}
	}
	op, err := ot.FromPatch(len(text), pos, 0, string(tok)+"xy")
	if err != nil {
		panic(fmt.Sprintf("docsim: FromPatch: %v", err)) // generator bug
	}
	return op
}

// startWriters creates the document on an admin's clone, invites
// writers-1 writers and settles; the standby takes over with the admin's
// log.
func (n *Net) startWriters(writers int, standby *incoming) (*Clone, error) {
	admin, err := n.AddClone(true)
	if err != nil {
		return nil, err
	}
	standby.history = func() []*docsync.Entry { return admin.Committed }
	for range writers - 1 {
		if err := n.invite(admin, docsync.RoleWriter); err != nil {
			return nil, err
		}
	}
	return admin, n.Settle()
}

// editRound lets each of the first writers clones make a loaded edit with
// probability p; acked[w] records writer w's accepted edits' tokens.
func (n *Net) editRound(writers int, p float64, acked [][]rune) {
	for w, c := range n.Clones[:writers] {
		if n.Rand.Float64() >= p {
			continue
		}
		var prev rune
		if k := len(acked[w]); k > 0 {
			prev = acked[w][k-1]
		}
		tok := token(w, len(acked[w]))
		if err := c.Replica.Propose(loadedEdit(n, []rune(c.Replica.Text()), prev, tok)); err == nil {
			acked[w] = append(acked[w], tok)
		}
		n.Drain(c)
	}
}

// Run executes the scenario and settles the network.
func (f Failover) Run() (*FailoverResult, error) {
	if f.Net == (NetParams{}) {
		f.Net = DefaultNetParams()
	}
	var first *stallable
	n := NewNet(f.Seed, f.Net, func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Node {
		first = &stallable{Node: sequencer.NewMemory(doc, key)}
		return first
	})
	second, standby := newIncoming(n), newIncoming(n)
	secondNode := &stallable{Node: second}
	n.AddSequencer(second.key.Public().(ed25519.PublicKey), secondNode)
	res := &FailoverResult{Net: n, Acked: make([][]rune, f.Writers), Takeover: -1}
	admin, err := n.startWriters(f.Writers, standby)
	if err != nil {
		return nil, err
	}
	secondPub := second.key.Public().(ed25519.PublicKey)
	standbyPub := standby.key.Public().(ed25519.PublicKey)
	for tick := 0; tick < f.Ticks; tick++ {
		switch {
		case tick == f.MoveAt:
			if err := admin.Replica.Move(secondPub, "/sim/second"); err != nil {
				return res, fmt.Errorf("planned move: %w", err)
			}
			n.Drain(admin)
		case f.Conflict && tick == f.StallAt-3:
			n.Hold(admin.Index)
		case tick == f.StallAt:
			secondNode.stalled = true
		case tick >= f.StallAt+f.StallTicks && res.Takeover < 0:
			// The stall alarm fired on the admin's clone: take over once
			// it holds every entry it knows of.
			if err := admin.Replica.Takeover(standbyPub, "/sim/standby"); err == nil {
				res.Takeover = tick
				n.Drain(admin)
				n.Release(admin.Index)
			} else if f.Conflict && tick == f.StallAt+f.StallTicks+10 {
				// It knew of entries it could not fetch while cut off:
				// reconnected, it catches up and takes over from there.
				n.Release(admin.Index)
			}
		}
		// The planned move's admin hands the log to the second sequencer
		// once the first one ordered the move.
		if m := admin.Replica.Log().Moves(); len(m) > 0 && second.mem == nil {
			ds, err := second.adopt(admin.Committed[:m[0].Seq])
			if err != nil {
				return res, fmt.Errorf("handover: %w", err)
			}
			n.publish(ds)
		}
		if f.CrashAt > 0 && tick == f.CrashAt {
			if err := n.crash(n.Clones[1+int(f.Seed)%(f.Writers-1)]); err != nil {
				return res, err
			}
		}
		n.editRound(f.Writers, f.EditProb, res.Acked)
		if err := n.Step(); err != nil {
			return res, err
		}
	}
	if err := n.Settle(); err != nil {
		return res, err
	}
	res.Moves = admin.Replica.Log().Moves()
	res.Standby = standby.mem
	for _, c := range n.Clones {
		for _, ev := range c.Events {
			if ev.Kind == docsync.EventMoved {
				res.MovedEvents++
			}
		}
		res.Rollbacks += c.Rollbacks
	}
	return res, nil
}

// crash replaces c's replica by one restored from what c persisted (the
// committed entries and the last Pending), as after kill -9.
func (n *Net) crash(c *Clone) error {
	cfg := docsync.Config{Doc: n.Doc, Sequencer: n.SeqKey.Public().(ed25519.PublicKey),
		Identity: c.Identity, Rand: readerOf(n.Rand)}
	r, err := docsync.Restore(cfg, c.Committed, c.Pending)
	if err != nil {
		return fmt.Errorf("restore clone %d: %w", c.Index, err)
	}
	if !bytesEqual(r.Log().Sequencer(), c.Replica.Log().Sequencer()) || r.Text() != c.Replica.Text() {
		return fmt.Errorf("clone %d restored on another sequencer or text", c.Index)
	}
	c.Replica = r
	n.Drain(c)
	return nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// Check verifies the run: two moves committed (the handover, then the
// takeover), every clone on the standby with identical text and chain,
// the standby's head equal to theirs, and every acknowledged edit's token
// in the text exactly once, each writer's in the order it typed them.
func (r *FailoverResult) Check() error {
	if len(r.Moves) != 2 {
		return fmt.Errorf("%d moves committed, want 2 (takeover sent at tick %d)", len(r.Moves), r.Takeover)
	}
	if r.Standby == nil {
		return fmt.Errorf("the standby never took over")
	}
	return checkConverged(r.Net, r.Moves[1].Sequencer, r.Standby, r.Acked)
}

// checkConverged verifies that every clone of n is on the sequencer key
// seq with nothing pending and the same text and chain as the others and
// as that sequencer, and that each writer's acknowledged tokens are in
// the text exactly once, in the order it typed them.
func checkConverged(n *Net, seq ed25519.PublicKey, last *sequencer.Memory, acked [][]rune) error {
	var ref *docsync.Replica
	for _, c := range n.Clones {
		rep := c.Replica
		if rep.Text() != rep.CommittedText() || rep.Busy() {
			return fmt.Errorf("clone %d has uncommitted local edits", c.Index)
		}
		if !bytesEqual(rep.Log().Sequencer(), seq) {
			return fmt.Errorf("clone %d is not on the standby", c.Index)
		}
		if ref == nil {
			ref = rep
			continue
		}
		if rep.Log().Seq() != ref.Log().Seq() || rep.Log().HeadHash() != ref.Log().HeadHash() {
			return fmt.Errorf("clone %d head %d/%v, clone 0 head %d/%v", c.Index, rep.Log().Seq(),
				rep.Log().HeadHash(), ref.Log().Seq(), ref.Log().HeadHash())
		}
		if rep.Text() != ref.Text() {
			return fmt.Errorf("clone %d text differs from clone 0", c.Index)
		}
	}
	if h := last.Head(ref.ID()); h.Seq != ref.Log().Seq() || h.ChainHash != ref.Log().HeadHash() {
		return fmt.Errorf("standby head %d differs from the clones' %d", h.Seq, ref.Log().Seq())
	}
	return checkTokens(ref.Text(), acked)
}

// Summary is a one-line account of the run.
func (r *FailoverResult) Summary() string {
	var b strings.Builder
	total := 0
	for _, t := range r.Acked {
		total += len(t)
	}
	fmt.Fprintf(&b, "acked %d, seq %d, rollbacks %d", total, r.Net.Clones[0].Replica.Log().Seq(), r.Rollbacks)
	for _, m := range r.Moves {
		fmt.Fprintf(&b, ", move at %d", m.Seq)
	}
	return b.String()
}
