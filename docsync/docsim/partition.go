package docsim

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// Partition is the "partition and heal" scenario of issue 14. Clones
// clones (clone 0 the admin) edit with Failover's token scheme; at CutAt
// the network splits into two halves, one with the sequencer, and drops
// every message between them until HealAt (the network buffers nothing).
// A tick stands for 50 ms of virtual time (tickTime): the default cut lasts
// 600 ticks, 30 s. Every RetryTicks each clone runs the clone service's
// timers: it resends its envelope in flight, refetches entries that stay
// missing and gossips its head again.
//
// Without a standby the cut-off half edits into its buffers and catches
// up after the heal. With Standby, a standby sequencer is in the cut-off
// half; when the admin is there too (AdminCutOff), its stall alarm fires
// once its envelope went StallTicks without an entry, and it takes over
// to the standby from its head: split brain, both halves commit. After
// the heal the sequencer's half meets the takeover and rolls back to
// follow it (docsync.Replica.Rollback), resending its own edits.
type Partition struct {
	Seed        uint64
	Clones      int
	Ticks       int // ticks during which every clone edits
	CutAt       int
	HealAt      int
	EditProb    float64 // per clone per tick
	Standby     bool
	AdminCutOff bool // the admin is in the half without the sequencer
	StallTicks  int  // the admin's stall alarm: its envelope this long without an entry
	RetryTicks  int  // the clone service's resubmit, refetch and head-repeat period
	SettleTicks int  // bound on the ticks after editing stops
	Net         NetParams
}

// tickTime is the virtual time a Partition tick stands for.
const tickTime = 50 * time.Millisecond

// DefaultPartition returns the scenario of seed: 6 clones, 5 s of edits,
// a 30 s cut, 5 s of edits after the heal; a stall alarm after 10 s and
// the service's timers every 2 s; messages take 50..200 ms.
func DefaultPartition(seed uint64) Partition {
	p := Partition{Seed: seed, Clones: 6, Ticks: 800, CutAt: 100, HealAt: 700, EditProb: 0.05,
		StallTicks: 200, RetryTicks: 40, SettleTicks: 20_000, Net: DefaultNetParams()}
	p.Net.MaxDelay = 4
	return p
}

// PartitionResult is what a Partition run produced.
type PartitionResult struct {
	Net       *Net
	CutOff    []bool   // per clone: in the half without the sequencer
	Acked     [][]rune // per clone, the tokens of its acknowledged edits in order
	Takeover  int      // tick the admin's takeover was sent (-1: none)
	Healed    int      // ticks after the heal until every clone agreed
	Rollbacks int
	Standby   *incoming
}

// Edits returns the number of acknowledged edits.
func (r *PartitionResult) Edits() int {
	n := 0
	for _, a := range r.Acked {
		n += len(a)
	}
	return n
}

// halves returns, per clone, whether it is in the cut-off half: half of
// the clones, the admin among them if adminCutOff, the rest drawn by the
// seeded generator.
func halves(n *Net, clones int, adminCutOff bool) []bool {
	cut := make([]bool, clones)
	want := clones / 2
	if adminCutOff {
		cut[0] = true
		want--
	}
	for _, i := range n.Rand.Perm(clones - 1)[:want] {
		cut[1+i] = true
	}
	return cut
}

// Run executes the scenario: genesis, members, edits across the cut and
// the heal, then the timers until every clone agrees (or SettleTicks).
func (p Partition) Run() (*PartitionResult, error) {
	if p.Net == (NetParams{}) {
		p.Net = DefaultNetParams()
	}
	n := NewNet(p.Seed, p.Net, func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Node {
		return sequencer.NewMemory(doc, key)
	})
	res := &PartitionResult{Net: n, Acked: make([][]rune, p.Clones), Takeover: -1, Healed: -1}
	var standbyPub ed25519.PublicKey
	standbyID := 0 // a sequencer ID once there is a standby
	if p.Standby {
		res.Standby = newIncoming(n)
		standbyPub = res.Standby.key.Public().(ed25519.PublicKey)
		standbyID = n.SequencerID(standbyPub)
	}
	admin, err := n.AddClone(true)
	if err != nil {
		return nil, err
	}
	if res.Standby != nil {
		res.Standby.history = func() []*docsync.Entry { return admin.Committed }
	}
	for range p.Clones - 1 {
		if err := n.invite(admin, docsync.RoleWriter); err != nil {
			return nil, err
		}
	}
	if err := n.Settle(); err != nil {
		return nil, err
	}
	res.CutOff = halves(n, p.Clones, p.AdminCutOff)
	side := func(node int) bool {
		if node >= 0 {
			return res.CutOff[node]
		}
		return p.Standby && node == standbyID
	}
	cutting := false
	n.Cut = func(from, to int) bool { return cutting && side(from) != side(to) }

	var timed *docsync.Envelope // the admin's envelope its stall alarm times
	timedAt := 0
	for tick := 0; ; tick++ {
		switch tick {
		case p.CutAt:
			cutting = true
		case p.HealAt:
			cutting = false
		}
		if p.Standby && res.Takeover < 0 {
			if env := admin.Replica.InFlight(); env != timed {
				timed, timedAt = env, tick
			} else if env != nil && tick-timedAt >= p.StallTicks {
				// The stall alarm is up: take over once every entry the
				// admin knows of is at hand (else the timers fetch them).
				if admin.Replica.Takeover(standbyPub, "/sim/standby") == nil {
					res.Takeover = tick
					n.Drain(admin)
				}
			}
		}
		if tick < p.Ticks {
			n.editAll(res.Acked, p.EditProb)
		}
		if tick%p.RetryTicks == 0 {
			for _, c := range n.Clones {
				n.timers(c)
			}
		}
		if err := n.Step(); err != nil {
			return res, err
		}
		if tick >= p.Ticks && tick%p.RetryTicks == 0 && n.agreed() {
			res.Healed = tick - p.HealAt
			break
		}
		if tick >= p.Ticks+p.SettleTicks {
			return res, fmt.Errorf("no agreement %d ticks after the edits stopped", p.SettleTicks)
		}
	}
	if err := n.Settle(); err != nil {
		return res, err
	}
	for _, c := range n.Clones {
		res.Rollbacks += c.Rollbacks
	}
	return res, nil
}

// editAll has every clone, with probability prob, make its next token
// edit (loadedEdit); acked[w] records clone w's acknowledged tokens.
func (n *Net) editAll(acked [][]rune, prob float64) {
	for w, c := range n.Clones {
		if n.Rand.Float64() >= prob {
			continue
		}
		var prev rune
		if k := len(acked[w]); k > 0 {
			prev = acked[w][k-1]
		}
		tok := token(w, len(acked[w]))
		if c.Replica.Propose(loadedEdit(n, []rune(c.Replica.Text()), prev, tok)) == nil {
			acked[w] = append(acked[w], tok)
		}
		n.Drain(c)
	}
}

// timers is what the clone service's timers do for c: resend the
// envelope in flight (ResubmitAfter; counters make it idempotent),
// refetch what stays missing (FetchRetry), gossip the head (HeadRepeat).
func (n *Net) timers(c *Clone) {
	r := c.Replica
	r.Resubmit()
	r.Refetch()
	if h, ok := r.HeadAt(r.Log().Seq()); ok {
		n.gossipHead(c, h)
	}
	n.Drain(c)
}

// agreed reports whether every clone has nothing left to send or fetch
// and the same head.
func (n *Net) agreed() bool {
	ref := n.Clones[0].Replica
	for _, c := range n.Clones {
		r := c.Replica
		if _, _, missing := r.Missing(); missing || r.Busy() || r.Applied() != r.Log().Seq() ||
			r.Log().HeadHash() != ref.Log().HeadHash() {
			return false
		}
	}
	return true
}

// Check verifies the run: every clone on the same sequencer (the standby
// after a takeover, else the first one) with identical text and chain,
// that sequencer's head equal to theirs, and every acknowledged edit's
// token in the text exactly once, each clone's in the order it typed them.
func (r *PartitionResult) Check() error {
	n := r.Net
	seq, want := n.Sequencer, n.SeqKey.Public().(ed25519.PublicKey)
	if r.Takeover >= 0 {
		seq, want = r.Standby, r.Standby.key.Public().(ed25519.PublicKey)
	}
	ref := n.Clones[0].Replica
	for _, c := range n.Clones {
		rep := c.Replica
		if rep.Busy() || rep.Text() != rep.CommittedText() {
			return fmt.Errorf("clone %d has uncommitted local edits", c.Index)
		}
		if !bytesEqual(rep.Log().Sequencer(), want) {
			return fmt.Errorf("clone %d is on another sequencer", c.Index)
		}
		if rep.Log().Seq() != ref.Log().Seq() || rep.Log().HeadHash() != ref.Log().HeadHash() || rep.Text() != ref.Text() {
			return fmt.Errorf("clone %d at seq %d differs from clone 0 at seq %d", c.Index, rep.Log().Seq(), ref.Log().Seq())
		}
	}
	if h := seq.Head(ref.ID()); h.Seq != ref.Log().Seq() || h.ChainHash != ref.Log().HeadHash() {
		return fmt.Errorf("sequencer head %d differs from the clones' %d", h.Seq, ref.Log().Seq())
	}
	return checkTokens(ref.Text(), r.Acked)
}

// Summary is a one-line account of the run.
func (r *PartitionResult) Summary() string {
	return fmt.Sprintf("acked %d, seq %d, takeover at tick %d, rollbacks %d, %d messages dropped by the cut, agreed %d ticks after the heal",
		r.Edits(), r.Net.Clones[0].Replica.Log().Seq(), r.Takeover, r.Rollbacks, r.Net.Dropped, r.Healed)
}
