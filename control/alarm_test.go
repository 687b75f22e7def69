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
}
