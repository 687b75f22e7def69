package server_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// The owner edits on the clone itself (the control API's EditFunc) while a
// device is linked: the device sees those edits live, its own keep flowing,
// and the link is never restarted. Before EventLocal, the device server's
// history missed such edits and dropped every session as out of sync.
func TestOwnerEditsOnTheCloneReachTheDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 7, 10*time.Millisecond, 5*time.Millisecond, 20*time.Millisecond)
		seq := w.sequencer()
		a, b := w.clone(), w.clone()
		d := w.n.NewDoc(seq, a, b)
		e := w.enroll(a, "phone")
		_, dc := w.device(e)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		doc, err := dc.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.EditFunc(insertAt(0, "phone1 ")); err != nil {
			t.Fatal(err)
		}
		for i, part := range []string{"owner1 ", "owner2 "} {
			if err := a.Svc.EditFunc(ctx, d.ID, insertAt(1<<30, part)); err != nil { // on clone a itself
				t.Fatal(err)
			}
			if err := doc.EditFunc(insertAt(0, []string{"phone2 ", "phone3 "}[i])); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Svc.EditFunc(ctx, d.ID, insertAt(0, "other ")); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		want, _ := a.Svc.Text(d.ID)
		if err := doc.WaitText(ctx, func(s string) bool { return s == want }); err != nil {
			t.Fatalf("device never reached the clone's text %q: %v", want, err)
		}
		for _, part := range []string{"phone1 ", "phone2 ", "phone3 ", "owner1 ", "owner2 ", "other "} {
			if strings.Count(want, part) != 1 {
				t.Fatalf("text %q: want %q exactly once", want, part)
			}
		}
	})
}
