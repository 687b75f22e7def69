package client_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
)

// A device's EditBase call is one op on the wire: another member sees its
// three ops as one update. Its build reads the text it edits. The updates
// the device gets name the committed entry (seq, author).
func TestEditBaseIsOneOpAndUpdatesNameTheirEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := netsim.New(t, 10*time.Millisecond)
		seq := n.AddSequencer()
		a, b := n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, a, b)
		_, c := devicetest.Attach(t, n, a, "phone")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		doc, err := c.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		events, unsub, err := b.Svc.Subscribe(d.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer unsub()

		if err := doc.Edit(netsim.Patch(t, 0, 0, 0, "hello")); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		// Three ops, the second built from the text: one edit.
		if err := doc.EditBase(func(base client.Base) ([]ot.Op, error) {
			text := base.Text()
			if text != "hello" || base.Len != 5 {
				t.Errorf("base %q (%d)", text, base.Len)
			}
			i := strings.Index(text, "ello")
			return []ot.Op{netsim.Patch(t, 5, 5, 0, " world"), netsim.Patch(t, 11, i, 4, "i"),
				netsim.Patch(t, 8, 8, 0, "!")}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		var updates []string // b's text after each update
		text := ""
		for len(updates) < 2 {
			select {
			case ev := <-events:
				if ev.Kind == cloneservice.EventUpdate {
					if text, err = ot.ApplyString(text, *ev.Op); err != nil {
						t.Fatal(err)
					}
					updates = append(updates, text)
				}
			case <-ctx.Done():
				t.Fatalf("updates on b: %q", updates)
			}
		}
		if updates[0] != "hello" || updates[1] != "hi world!" {
			t.Fatalf("b saw %q, want the EditBase's three ops as one update", updates)
		}
		select {
		case ev := <-events:
			if ev.Kind == cloneservice.EventUpdate {
				t.Fatalf("a third update: %+v", ev)
			}
		default:
		}

		// b edits: the device's update names b's entry.
		if err := b.Svc.EditFunc(ctx, d.ID, func(n int) ([]ot.Op, error) {
			return []ot.Op{netsim.Patch(t, n, n, 0, "?")}, nil
		}); err != nil {
			t.Fatal(err)
		}
		bi, _ := b.Svc.Info(d.ID)
		for {
			select {
			case u := <-doc.Updates():
				if u.Bundle {
					continue
				}
				if u.Author != b.Svc.ID() || u.Seq == 0 || u.Seq > bi.Seq+1 {
					t.Fatalf("update %+v, want b's entry (b at seq %d)", u, bi.Seq)
				}
				if doc.Text() != "hi world!?" {
					t.Fatalf("device text %q", doc.Text())
				}
				return
			case <-ctx.Done():
				t.Fatal("no update on the device")
			}
		}
	})
}
