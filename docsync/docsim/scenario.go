package docsim

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// Scenario describes a randomized run.
type Scenario struct {
	Seed     uint64
	Clones   int     // total clones, including those added mid-stream
	Initial  int     // members added right after genesis
	Ticks    int     // ticks during which clones edit
	EditProb float64 // per clone per tick
	// Membership adds the remaining clones mid-stream, removes one member and
	// changes another's role.
	Membership bool
	Net        NetParams
	// Sequencer builds the sequencer; nil means an honest in-memory one.
	Sequencer func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Node
	// OnNet, if set, sees the network before the first clone exists.
	OnNet func(*Net)
}

// Result is what a run produced.
type Result struct {
	Net     *Net
	Removed map[int]bool // clone index -> removed
	Edits   int
}

const alphabet = "abcdefghij klmnopé€𝄞\n"

// randomEdit returns a random op on text.
func randomEdit(n *Net, text string) ot.Op {
	l := utf8.RuneCountInString(text)
	pos := n.Rand.IntN(l + 1)
	del := 0
	if l > 0 && n.Rand.IntN(3) == 0 {
		del = 1 + n.Rand.IntN(min(3, l-pos+1))
		del = min(del, l-pos)
	}
	var ins strings.Builder
	if del == 0 || n.Rand.IntN(2) == 0 {
		runes := []rune(alphabet)
		for range 1 + n.Rand.IntN(4) {
			ins.WriteRune(runes[n.Rand.IntN(len(runes))])
		}
	}
	op, err := ot.FromPatch(l, pos, del, ins.String())
	if err != nil {
		panic(fmt.Sprintf("docsim: FromPatch(%d,%d,%d): %v", l, pos, del, err)) // generator bug
	}
	return op
}

// Run executes the scenario: genesis, members, random edits (and membership
// changes), then delivery until the network is quiet.
func (s Scenario) Run() (*Result, error) {
	if s.Net == (NetParams{}) {
		s.Net = DefaultNetParams()
	}
	mk := s.Sequencer
	if mk == nil {
		mk = func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Node { return sequencer.NewMemory(doc, key) }
	}
	n := NewNet(s.Seed, s.Net, mk)
	if s.OnNet != nil {
		s.OnNet(n)
	}
	res := &Result{Net: n, Removed: map[int]bool{}}
	admin, err := n.AddClone(true)
	if err != nil {
		return nil, err
	}
	initial := s.Initial
	if !s.Membership {
		initial = s.Clones
	}
	for range initial - 1 {
		if err := n.invite(admin, docsync.RoleWriter); err != nil {
			return nil, err
		}
	}
	addAt, removeAt, roleAt := s.Ticks/4, s.Ticks/2, 2*s.Ticks/3
	for tick := 0; tick < s.Ticks; tick++ {
		if s.Membership {
			switch tick {
			case addAt:
				for len(n.Clones) < s.Clones {
					if err := n.invite(admin, docsync.RoleWriter); err != nil {
						return nil, err
					}
				}
			case removeAt:
				if len(n.Clones) > 2 {
					victim := 1 + n.Rand.IntN(len(n.Clones)-1)
					res.Removed[victim] = true
					_ = admin.Replica.RemoveMember(n.Clones[victim].Replica.ID())
					n.Drain(admin)
				}
			case roleAt:
				if len(n.Clones) > 2 {
					c := 1 + n.Rand.IntN(len(n.Clones)-1)
					_ = admin.Replica.ChangeRole(n.Clones[c].Replica.ID(), docsync.RoleReader)
					n.Drain(admin)
				}
			}
		}
		for _, c := range n.Clones {
			if res.Removed[c.Index] || n.Rand.Float64() >= s.EditProb {
				continue
			}
			if err := c.Replica.Propose(randomEdit(n, c.Replica.Text())); err == nil {
				res.Edits++
			}
			n.Drain(c)
		}
		if err := n.Step(); err != nil {
			return res, err
		}
	}
	return res, n.Settle()
}

// invite creates a clone and has admin add it with role.
func (n *Net) invite(admin *Clone, role docsync.Role) error {
	c, err := n.AddClone(false)
	if err != nil {
		return err
	}
	if err := admin.Replica.AddMember(c.Replica.ID(), c.Identity.HPKEPublic(), role); err != nil {
		return err
	}
	n.Drain(admin)
	return nil
}

// CheckConverged verifies that every clone that is still a member has the
// same text and chain head as the others and as the sequencer, and nothing
// pending.
func (r *Result) CheckConverged() error {
	var ref *Clone
	for _, c := range r.Net.Clones {
		if r.Removed[c.Index] {
			continue
		}
		rep := c.Replica
		if rep.Text() != rep.CommittedText() {
			return fmt.Errorf("clone %d has uncommitted local edits", c.Index)
		}
		if rep.Applied() != rep.Log().Seq() {
			return fmt.Errorf("clone %d applied %d of %d", c.Index, rep.Applied(), rep.Log().Seq())
		}
		if ref == nil {
			ref = c
			continue
		}
		if rep.Log().Seq() != ref.Replica.Log().Seq() || rep.Log().HeadHash() != ref.Replica.Log().HeadHash() {
			return fmt.Errorf("clone %d head %d/%v, clone %d head %d/%v", c.Index, rep.Log().Seq(),
				rep.Log().HeadHash(), ref.Index, ref.Replica.Log().Seq(), ref.Replica.Log().HeadHash())
		}
		if rep.Text() != ref.Replica.Text() {
			return fmt.Errorf("clone %d text differs from clone %d", c.Index, ref.Index)
		}
	}
	if ref == nil {
		return fmt.Errorf("no member left")
	}
	if h := r.Net.Sequencer.Head(ref.Replica.ID()); h.Seq != ref.Replica.Log().Seq() || h.ChainHash != ref.Replica.Log().HeadHash() {
		return fmt.Errorf("sequencer head %d differs from clones' %d", h.Seq, ref.Replica.Log().Seq())
	}
	return nil
}
