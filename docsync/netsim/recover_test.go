package netsim

import (
	"context"
	"crypto/ed25519"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// TestRecoveryOnStandby: 4 clones edit throughout against a sequencer that
// misbehaves at seq 8 (equivocates to the odd clones, tampers with an
// entry, or withholds one); the admin's clone, its alarm up (fork,
// evidence or stall), recovers the document onto its standby by itself:
// it takes over from the last head every member's chain shares, the
// members on either branch roll back to follow, and editing goes on.
// Every acknowledged edit is in the final text exactly once and in its
// author's order, every clone is on the standby with the same text and
// chain, and a clone restarted from its datastore is still there and edits.
func TestRecoveryOnStandby(t *testing.T) {
	for _, b := range []sequencer.Behaviour{sequencer.Equivocate, sequencer.Tamper, sequencer.Drop} {
		t.Run(b.String(), func(t *testing.T) { recoverOnStandby(t, b) })
	}
}

func recoverOnStandby(t *testing.T, b sequencer.Behaviour) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 10*time.Millisecond)
		var victims victimSet
		var byz *seqtest.Observed
		seqA := n.AddSequencer(victims.byzantine(b, 8, &byz))
		standby := n.AddSequencer()
		params := cloneservice.DefaultParams()
		params.StallAfter = stallAfter
		clones := addAdminAndVictims(n, params, standby, &victims)
		d := n.NewDoc(seqA, clones...)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()

		// Edits are refused while the document is stopped: not acknowledged.
		ws, stopWriters := startTokenWriters(ctx, t, d.ID, clones, false)
		onStandby := func() bool {
			for _, c := range clones {
				if in, err := c.Svc.Info(d.ID); err != nil || in.Sequencer != standby.H.ID() || in.Halted != nil || len(in.Misbehaved) > 0 {
					return false
				}
			}
			return true
		}
		WaitUntil(t, 2*time.Minute, "every clone recovered onto the standby", onStandby)
		at, _ := byz.MisbehavedAt()
		if at.IsZero() {
			t.Fatal("the sequencer never misbehaved")
		}
		recovered := time.Since(at)
		before := 0
		for _, tw := range ws {
			before += int(tw.n.Load())
		}
		time.Sleep(3 * time.Second) // editing goes on on the standby
		stopWriters()
		acked := settleTokens(ctx, t, d, standby, clones, ws)
		if acked <= before {
			t.Fatalf("no edit acknowledged after the recovery (%d before, %d in all)", before, acked)
		}
		rolled := 0
		for _, c := range clones {
			st := c.Svc.Stats()
			rolled += int(st.Rollbacks)
			in, _ := c.Svc.Info(d.ID)
			want := map[sequencer.Behaviour]docsync.EvidenceKind{sequencer.Equivocate: docsync.EvidenceFork,
				sequencer.Tamper: docsync.EvidenceTamper}[b]
			if want != 0 && !slices.Contains(in.Recovered, want) {
				t.Errorf("clone %v: recovered from %v, want %v", c.Svc.ID(), in.Recovered, want)
			}
		}
		if st := clones[0].Svc.Stats(); st.Recoveries == 0 {
			t.Fatal("the admin's clone started no recovery")
		}
		if b == sequencer.Equivocate && rolled == 0 {
			t.Fatal("no member rolled back after the fork")
		}
		in, _ := clones[0].Svc.Info(d.ID)
		t.Logf("%v: recovered onto the standby %v after the misbehaviour (virtual); %d acknowledged edits before, %d in all, each once and in order; %d rollbacks; seq %d",
			b, recovered.Round(time.Millisecond), before, acked, rolled, in.Seq)

		// A restarted member is still on the standby and edits.
		restartOnStandby(ctx, t, n, d, standby, params, ws, 1)
	})
}

// victimSet is the members a Byzantine sequencer treats as victims (the
// other branch of an equivocation), filled in as the clones are made.
type victimSet struct {
	mu sync.Mutex
	m  map[docsync.MemberID]bool
}

func (v *victimSet) add(id docsync.MemberID) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[docsync.MemberID]bool{}
	}
	v.m[id] = true
}

func (v *victimSet) has(id docsync.MemberID) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m[id]
}

// byzantine is the option of a sequencer that misbehaves as b from seq at
// towards v's members; obs, if not nil, gets its orderer once it is made.
func (v *victimSet) byzantine(b sequencer.Behaviour, at uint64, obs **seqtest.Observed) seqservice.Option {
	return seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
		sb := sequencer.NewByzantine(doc, key, b, at)
		sb.Victims = v.has
		o := seqtest.Observe(sb)
		if obs != nil {
			*obs = o
		}
		return o
	})
}

// addAdminAndVictims adds 4 clones with params, clone 0 (the admin) with
// standby as its standby, and makes the odd ones victims.
func addAdminAndVictims(n *Net, params cloneservice.Params, standby *Sequencer, v *victimSet) []*Clone {
	var clones []*Clone
	for i := range 4 {
		opts := []cloneservice.Option{cloneservice.WithParams(params)}
		if i == 0 {
			opts = append(opts, cloneservice.WithStandby(standby.Info()))
		}
		c := n.AddClone(opts...)
		clones = append(clones, c)
		if i%2 == 1 {
			v.add(c.Svc.ID())
		}
	}
	return clones
}

// restartOnStandby restarts clone w of d from its datastore, checks that
// it is still on standby and not halted, has it edit once, and checks
// that every clone converges with each acknowledged token once and in
// order.
func restartOnStandby(ctx context.Context, t *testing.T, n *Net, d *Doc, standby *Sequencer, params cloneservice.Params, ws []*tokenWriter, w int) {
	t.Helper()
	c := d.Clones[w]
	c.StopService()
	n.StartClone(c, cloneservice.WithParams(params))
	if in, err := c.Svc.Info(d.ID); err != nil || in.Sequencer != standby.H.ID() || in.Halted != nil {
		t.Fatalf("restarted clone %d: sequencer %v halted %v (err %v)", w, in.Sequencer, in.Halted != nil, err)
	}
	if err := ws[w].edit(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	d.WaitConverged(time.Minute)
	text, _ := d.Clones[0].Svc.Text(d.ID)
	checkTokens(t, text, ws)
}
