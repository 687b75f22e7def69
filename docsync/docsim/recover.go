package docsim

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// Recover is the "recovery from a bad sequencer" scenario: Writers clones
// (the admin, clone 0, among them) edit on every tick against a Byzantine
// sequencer that misbehaves at seq At as Fault says: Equivocate (the odd
// clones get a second branch), Tamper (a sequencer-signed entry whose
// envelope fails its author's signature) or Drop (the entry at At is
// withheld from everyone, also on fetch). The alarm reaches the admin's
// clone AlarmTicks after the first clone raised it (fork or tamper: a
// clone's fork proof or evidence, gossiped to members; drop: the admin's
// own stall alarm, entries missing for AlarmTicks). The admin then collects
// every member's sequencer-signed heads, takes the last seq every chain
// shares (docsync.Replica.AgreedPrefix) and moves the document to a
// standby sequencer with a takeover from there (TakeoverFrom); every
// member follows it, rolling back what it committed after that seq, and
// resends its own edits. Editing goes on until Ticks, before and after;
// CrashAfter ticks after the takeover a writer is killed and restored from
// what it persisted (its rollback included).
//
// Acknowledged edits are the ones a replica accepted, with tokens as in
// Failover; a halted replica accepts none.
type Recover struct {
	Seed       uint64
	Writers    int
	Ticks      int
	EditProb   float64
	Fault      sequencer.Behaviour
	At         uint64
	AlarmTicks int
	// ReportWindow is how many heads back from the admin's head a member
	// reports first; a report that differs already at its first head is
	// asked again for the window before it.
	ReportWindow uint64
	// CrashAfter ticks after the takeover a writer other than the admin is
	// killed and restored from what it persisted (0: no crash).
	CrashAfter int
	// Offline, if not 0, is the only member on the second branch of a
	// fork, and it is cut off (every message to and from it dropped) from
	// when it raised the alarm itself, or the report collection at the
	// latest, until RejoinAfter ticks after the takeover: the admin takes
	// over without its report, from a seq after its branch left the
	// others'. Back, it asks a member for its latest takeover every
	// ProbeTicks, as a stopped member does, and follows it across
	// (docsync.Replica.FollowAcross).
	Offline     int
	RejoinAfter int
	ProbeTicks  int
	Net         NetParams
}

// DefaultRecover returns the scenario of seed with 4 writers and fault.
func DefaultRecover(seed uint64, fault sequencer.Behaviour) Recover {
	return Recover{Seed: seed, Writers: 4, Ticks: 160, EditProb: 0.5, Fault: fault, At: 20 + seed%20,
		AlarmTicks: 12, ReportWindow: 2 + seed%7, CrashAfter: 10 + int(seed%20), Net: DefaultNetParams()}
}

// RecoverResult is what a Recover run produced.
type RecoverResult struct {
	Net     *Net
	Acked   [][]rune // per writer, the tokens of its acknowledged edits in order
	Standby *sequencer.Memory
	Byz     *sequencer.Byzantine
	// AlarmTick is when the first clone raised the alarm; TakeoverTick when
	// the admin sent its takeover, from seq Base.
	AlarmTick, TakeoverTick int
	Base                    uint64
	// AckedBefore counts the edits acknowledged before the takeover.
	AckedBefore int
	Rollbacks   int // members that followed the takeover by rolling back
	// HaltedRollbacks counts the members halted by the fork that followed
	// the takeover by rolling back.
	HaltedRollbacks int
	// CutTick and RejoinTick bound the Offline member's cut (-1: none);
	// Crossings counts the takeovers followed across from another branch.
	CutTick, RejoinTick int
	Crossings           int
	Reports             int // head reports the admin asked for (re-asks included)
}

// alarmed reports whether c raised the alarm of fault: a fork proof, or
// evidence of a tampered entry.
func alarmed(c *Clone, fault sequencer.Behaviour) bool {
	for _, ev := range c.Events {
		switch {
		case fault == sequencer.Equivocate && ev.Kind == docsync.EventFork:
			return true
		case fault == sequencer.Tamper && ev.Kind == docsync.EventEvidence:
			return true
		}
	}
	return false
}

// Run executes the scenario and settles the network.
func (f Recover) Run() (*RecoverResult, error) {
	if f.Net == (NetParams{}) {
		f.Net = DefaultNetParams()
	}
	res := &RecoverResult{Acked: make([][]rune, f.Writers), AlarmTick: -1, TakeoverTick: -1, CutTick: -1, RejoinTick: -1}
	var n *Net
	n = NewNet(f.Seed, f.Net, func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Node {
		res.Byz = sequencer.NewByzantine(doc, key, f.Fault, f.At)
		res.Byz.Victims = func(id docsync.MemberID) bool {
			for _, c := range n.Clones {
				if c.Replica.ID() == id {
					if f.Offline > 0 {
						return c.Index == f.Offline
					}
					return c.Index%2 == 1
				}
			}
			return false
		}
		return res.Byz
	})
	res.Net = n
	standby := newIncoming(n)
	admin, err := n.startWriters(f.Writers, standby)
	if err != nil {
		return nil, err
	}
	standbyPub := standby.key.Public().(ed25519.PublicKey)
	cut := false
	if f.Offline > 0 {
		n.Cut = func(from, to int) bool { return cut && (from == f.Offline || to == f.Offline) }
	}
	missingSince := -1
	for tick := 0; tick < f.Ticks; tick++ {
		if f.Offline > 0 {
			f.offline(n, tick, &cut, res)
		}
		if res.AlarmTick < 0 {
			if f.Fault == sequencer.Drop {
				if _, _, missing := admin.Replica.Missing(); !missing {
					missingSince = -1
				} else if missingSince < 0 {
					missingSince = tick
				} else if tick-missingSince >= f.AlarmTicks {
					res.AlarmTick = tick - f.AlarmTicks
				}
			} else {
				for _, c := range n.Clones {
					if alarmed(c, f.Fault) {
						res.AlarmTick = tick
						break
					}
				}
			}
		}
		if res.AlarmTick >= 0 && res.TakeoverTick < 0 && tick >= res.AlarmTick+f.AlarmTicks {
			if err := f.recover(n, admin, standbyPub, res); err == nil {
				res.TakeoverTick = tick
				for _, a := range res.Acked {
					res.AckedBefore += len(a)
				}
				n.Drain(admin)
			} else if !errors.Is(err, docsync.ErrNotReady) {
				return res, fmt.Errorf("recovery at tick %d: %w", tick, err)
			}
		}
		if f.CrashAfter > 0 && res.TakeoverTick >= 0 && tick == res.TakeoverTick+f.CrashAfter {
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
	res.Standby = standby.mem
	for _, c := range n.Clones {
		res.Rollbacks += c.Rollbacks
		res.Crossings += c.Crossings
		if c.Rollbacks > 0 && alarmed(c, sequencer.Equivocate) {
			res.HaltedRollbacks++
		}
	}
	return res, nil
}

// offline runs the Offline member's cut at tick: it starts once the
// member raised the alarm, or at the report collection at the latest,
// and ends RejoinAfter ticks after the takeover; back, the member asks a
// random member for its latest takeover every ProbeTicks until it is on
// the new sequencer.
func (f Recover) offline(n *Net, tick int, cut *bool, res *RecoverResult) {
	c := n.Clones[f.Offline]
	switch {
	case res.CutTick < 0 && res.AlarmTick >= 0 && (alarmed(c, sequencer.Equivocate) || tick >= res.AlarmTick+f.AlarmTicks):
		*cut, res.CutTick = true, tick
	case *cut && res.TakeoverTick >= 0 && tick >= res.TakeoverTick+f.RejoinAfter:
		*cut, res.RejoinTick = false, tick
	}
	if res.RejoinTick < 0 || (tick-res.RejoinTick)%max(1, f.ProbeTicks) != 0 || len(c.Replica.Log().Moves()) > 0 {
		return
	}
	peer := n.Clones[n.Rand.IntN(len(n.Clones))]
	if peer == c {
		return
	}
	n.sendFrom(c.Index, peer.Index, func() {
		if t := peer.Replica.Log().LastTakeover(); t != nil {
			n.deliverAll(peer.Index, c, []*docsync.Entry{t})
		}
	})
}

// recover is the admin's part: the agreed seq from every member's report,
// then the takeover from it, replacing the admin's replica (what it
// persisted after the base is dropped, as after a rollback).
func (f Recover) recover(n *Net, admin *Clone, standby ed25519.PublicKey, res *RecoverResult) error {
	base := admin.Replica.Log().Seq()
	for _, c := range n.Clones[1:] {
		if n.Cut != nil && n.Cut(admin.Index, c.Index) {
			continue // not connected: no report
		}
		s, err := f.agreed(admin, c, res)
		if err != nil {
			return fmt.Errorf("clone %d's report: %w", c.Index, err)
		}
		base = min(base, s)
	}
	r, err := admin.Replica.TakeoverFrom(nil, admin.Committed[:base], admin.Committed[base:], standby, "/sim/standby")
	if err != nil {
		return err
	}
	admin.Committed = admin.Committed[:base]
	admin.Replica = r
	res.Base = base
	return nil
}

// agreed asks member c for the heads of its chain from ReportWindow before
// the admin's head to its own, and again for earlier windows while its
// chain differs from the admin's at the first head reported.
func (f Recover) agreed(admin, c *Clone, res *RecoverResult) (uint64, error) {
	hi := admin.Replica.Log().Seq()
	if t := uint64(len(c.Committed)); t > hi {
		hi = t
	}
	lo := uint64(1)
	if top := admin.Replica.Log().Seq(); top > f.ReportWindow {
		lo = top - f.ReportWindow
	}
	for {
		res.Reports++
		var heads []docsync.Head
		for _, e := range c.serve(lo, hi) {
			heads = append(heads, e.Head)
		}
		var s uint64
		err := docsync.ErrDiverged // c's chain ends before lo
		if len(heads) > 0 {
			s, err = admin.Replica.AgreedPrefix(heads)
		}
		if !errors.Is(err, docsync.ErrDiverged) || lo == 1 {
			return s, err
		}
		hi = lo - 1
		lo = max(1, lo-min(lo-1, f.ReportWindow))
	}
}

// Check verifies the run: the takeover committed, every clone on the
// standby with identical text and chain (the standby's head too), and
// every acknowledged edit's token in the text exactly once, each
// writer's in the order it typed them.
func (r *RecoverResult) Check() error {
	if r.TakeoverTick < 0 || r.Standby == nil {
		return fmt.Errorf("no takeover (alarm at tick %d)", r.AlarmTick)
	}
	moves := r.Net.Clones[0].Replica.Log().Moves()
	if len(moves) != 1 || moves[0].Seq != r.Base+1 {
		return fmt.Errorf("%d moves committed, want the takeover at seq %d", len(moves), r.Base+1)
	}
	return checkConverged(r.Net, moves[0].Sequencer, r.Standby, r.Acked)
}

// Summary is a one-line account of the run.
func (r *RecoverResult) Summary() string {
	total := 0
	for _, t := range r.Acked {
		total += len(t)
	}
	return fmt.Sprintf("acked %d (%d before the takeover), alarm at tick %d, takeover at tick %d from seq %d, seq %d, rollbacks %d, crossings %d, reports %d",
		total, r.AckedBefore, r.AlarmTick, r.TakeoverTick, r.Base, r.Net.Clones[0].Replica.Log().Seq(), r.Rollbacks, r.Crossings, r.Reports)
}
