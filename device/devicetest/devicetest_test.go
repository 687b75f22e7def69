package devicetest_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
)

// A device attached with one call edits the document through its clone,
// and sees the other clone's edit.
func TestAttach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := netsim.New(t, 10*time.Millisecond)
		seq := n.AddSequencer()
		a, b := n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, a, b)
		dev, c := devicetest.Attach(t, n, a, "phone")
		if dev.Cert.Clone != a.H.ID() || dev.Name != "phone" {
			t.Fatalf("device %+v", dev)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		doc, err := c.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.EditFunc(func(n int) ([]ot.Op, error) {
			op, err := ot.FromPatch(n, n, 0, "hello")
			return []ot.Op{op}, err
		}); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		if err := b.Svc.EditFunc(ctx, d.ID, func(n int) ([]ot.Op, error) {
			op, err := ot.FromPatch(n, n, 0, " world")
			return []ot.Op{op}, err
		}); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitText(ctx, func(s string) bool { return s == "hello world" }); err != nil {
			t.Fatalf("device text %q: %v", doc.Text(), err)
		}
	})
}
