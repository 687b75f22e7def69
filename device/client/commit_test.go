package client_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
)

// While a state write is in flight the document does not stop: the edit it
// holds shows in the text but is not sent, remote ops are applied, and the
// keystrokes typed meanwhile are written together by the next write.
func TestGroupCommitWhileAWriteIsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := netsim.New(t, 10*time.Millisecond)
		seq := n.AddSequencer()
		a, b := n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, a, b)
		var writes atomic.Int32
		release := make(chan struct{})
		hold := func(write func() error) error {
			if writes.Add(1) == 2 { // the first after the connect's
				<-release
			}
			return write()
		}
		_, c := devicetest.Attach(t, n, a, "phone", client.WithStateDir(t.TempDir()), client.WithWriteHook(hold))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		doc, err := c.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		if got := writes.Load(); got != 1 {
			t.Fatalf("%d writes after the connect, want 1", got)
		}
		sent := doc.Stats().EditsSent
		appendText := func(s string) func(int) ([]ot.Op, error) {
			return func(n int) ([]ot.Op, error) {
				op, err := ot.FromPatch(n, n, 0, s)
				return []ot.Op{op}, err
			}
		}
		errs := make(chan error, 3)
		go func() { errs <- doc.EditFunc(appendText("a")) }()
		synctest.Wait() // its write is held
		if doc.Text() != "a" || doc.Stats().EditsSent != sent {
			t.Fatalf("text %q, %d edits sent: want the edit shown and not sent before it is durable", doc.Text(), doc.Stats().EditsSent-sent)
		}
		go func() { errs <- doc.EditFunc(appendText("b")) }()
		go func() { errs <- doc.EditFunc(appendText("c")) }()
		synctest.Wait()
		// A remote op reaches the text while the write is held.
		if err := b.Svc.EditFunc(ctx, d.ID, func(int) ([]ot.Op, error) {
			return []ot.Op{netsim.Patch(t, 0, 0, 0, "Z")}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitText(ctx, func(s string) bool { return strings.Contains(s, "Z") }); err != nil {
			t.Fatalf("the remote op waited for the state write: %v", err)
		}
		select {
		case err := <-errs:
			t.Fatalf("an edit returned (%v) before its state was durable", err)
		default:
		}
		close(release)
		for range 3 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		// Writes: the connect's; "a" (held); "b" and "c" together; the ack
		// of "a" moving them in flight.
		if got := writes.Load(); got != 4 {
			t.Fatalf("%d state writes, want 4 (b and c in one)", got)
		}
		d.WaitConverged(time.Minute)
		want := doc.Text()
		if got, _ := b.Svc.Text(d.ID); got != want || len(want) != 4 {
			t.Fatalf("member text %q, device %q", got, want)
		}
	})
}
