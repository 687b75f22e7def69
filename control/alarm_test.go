package control

import (
	"context"
	"crypto/ed25519"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// A fork alarm reaches the owner: the event stream carries it, show reports
// it, a watcher that starts later gets it first, and edits are refused.
func TestControlForkAlarm(t *testing.T) {
	n := netsim.NewLoopback(t)
	var victim atomic.Pointer[docsync.MemberID]
	seq := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
		b := sequencer.NewByzantine(doc, key, sequencer.Equivocate, 4)
		b.Victims = func(m docsync.MemberID) bool { v := victim.Load(); return v != nil && *v == m }
		return seqtest.Observe(b)
	}))
	a, b := n.AddClone(), n.AddClone()
	id := b.Svc.ID()
	victim.Store(&id)
	d := n.NewDoc(seq, a, b)
	_, ca := serve(t, a)
	doc := d.ID
	docHex := hexOf(doc[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	alarms := make(chan Event, 1)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- ca.Watch(ctx, docHex, func(ev Event) bool {
			if ev.Kind == "alarm" {
				alarms <- ev
				return false
			}
			return true
		})
	}()
	// Both clones edit until the sequencer has forked the log.
	edit := func(c *netsim.Clone, s string) {
		_ = c.Svc.EditFunc(ctx, doc, func(n int) ([]ot.Op, error) {
			op, err := ot.FromPatch(n, n, 0, s)
			return []ot.Op{op}, err
		})
	}
	var ev Event
	waitFor(t, "alarm on the watch stream", func() bool {
		edit(a, "a")
		edit(b, "b")
		select {
		case ev = <-alarms:
			return true
		default:
			return false
		}
	})
	if err := <-watchDone; err != nil {
		t.Fatalf("watch: %v", err)
	}
	if ev.Alarm == nil || ev.Alarm.A == ev.Alarm.B {
		t.Fatalf("alarm event without a fork: %+v", ev)
	}
	in, err := ca.Show(ctx, docHex)
	if err != nil || in.Alarm == nil || in.Alarm.Seq != ev.Alarm.Seq {
		t.Fatalf("show after the alarm: %+v %v", in.Alarm, err)
	}
	if _, err := ca.Edit(ctx, docHex, EditRequest{Kind: EditAppend, Text: "x"}); !errors.Is(err, ErrHalted) {
		t.Fatalf("edit after the alarm: %v, want ErrHalted", err)
	}
	// A watcher arriving after the fork sees the alarm first.
	var first Event
	if err := ca.Watch(ctx, docHex, func(e Event) bool { first = e; return false }); err != nil {
		t.Fatal(err)
	}
	if first.Kind != "alarm" || first.Alarm == nil || first.Alarm.Seq != ev.Alarm.Seq {
		t.Fatalf("late watcher's first event: %+v", first)
	}
	exportedEvidence(t, ctx, ca, docHex, "fork", seq.Svc.PublicKey())
}

// exportedEvidence fails unless the clone's evidence endpoint has evidence
// of kind that verifies against seqPub, and refuses a tampered copy.
func exportedEvidence(t *testing.T, ctx context.Context, c *Client, doc string, kind string, seqPub ed25519.PublicKey) {
	t.Helper()
	items, err := c.Evidence(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Kind != kind {
			continue
		}
		ev, err := docsync.DecodeEvidence(it.Data)
		if err == nil {
			err = ev.VerifyFor(seqPub)
		}
		if err != nil {
			t.Fatalf("exported %s evidence: %v", kind, err)
		}
		bad := append([]byte(nil), it.Data...)
		bad[len(bad)/2] ^= 0x10
		if ev, err := docsync.DecodeEvidence(bad); err == nil && ev.Verify() == nil {
			t.Fatalf("a tampered copy of the %s evidence verifies", kind)
		}
		return
	}
	t.Fatalf("no %s evidence exported (%d items)", kind, len(items))
}

// A tampered entry reaches the owner as a misbehaviour alarm (distinct
// from a fork), show reports it, edits are refused, and the evidence the
// control API exports verifies.
func TestControlTamperEvidence(t *testing.T) {
	n := netsim.NewLoopback(t)
	seq := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
		return seqtest.Observe(sequencer.NewByzantine(doc, key, sequencer.Tamper, 4))
	}))
	a, b := n.AddClone(), n.AddClone()
	d := n.NewDoc(seq, a, b)
	_, ca := serve(t, a)
	docHex := hexOf(d.ID[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	alarms := make(chan Event, 1)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- ca.Watch(ctx, docHex, func(ev Event) bool {
			if ev.Kind == "alarm" {
				alarms <- ev
				return false
			}
			return true
		})
	}()
	var ev Event
	waitFor(t, "alarm on the watch stream", func() bool {
		for _, c := range []*netsim.Clone{a, b} {
			_ = c.Svc.EditFunc(ctx, d.ID, func(n int) ([]ot.Op, error) {
				op, err := ot.FromPatch(n, n, 0, "t")
				return []ot.Op{op}, err
			})
		}
		select {
		case ev = <-alarms:
			return true
		default:
			return false
		}
	})
	if err := <-watchDone; err != nil {
		t.Fatalf("watch: %v", err)
	}
	if ev.Alarm != nil || ev.Misbehaviour == nil || ev.Misbehaviour.Kind != "tamper" {
		t.Fatalf("alarm event: %+v", ev)
	}
	in, err := ca.Show(ctx, docHex)
	if err != nil || len(in.Misbehaved) != 1 || in.Misbehaved[0] != "tamper" || in.Alarm != nil {
		t.Fatalf("show after the alarm: %+v %v", in, err)
	}
	if _, err := ca.Edit(ctx, docHex, EditRequest{Kind: EditAppend, Text: "x"}); !errors.Is(err, ErrHalted) {
		t.Fatalf("edit after the alarm: %v, want ErrHalted", err)
	}
	exportedEvidence(t, ctx, ca, docHex, "tamper", seq.Svc.PublicKey())
	var first Event
	if err := ca.Watch(ctx, docHex, func(e Event) bool { first = e; return false }); err != nil {
		t.Fatal(err)
	}
	if first.Kind != "alarm" || first.Misbehaviour == nil {
		t.Fatalf("late watcher's first event: %+v", first)
	}
}
