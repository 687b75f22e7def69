package netsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

// Doc is one document shared by clones through a sequencer.
type Doc struct {
	Net    *Net
	Seq    *Sequencer
	Clones []*Clone
	ID     docsync.DocID
}

// NewDoc makes clones[0] create a document on seq and invite every other
// clone as a writer (through the directory and the invite protocol).
func (n *Net) NewDoc(seq *Sequencer, clones ...*Clone) *Doc {
	t := n.T
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := clones[0].Svc.Create(ctx, seq.Info())
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	for _, c := range clones[1:] {
		if _, err := clones[0].Svc.Invite(ctx, id, c.User, c.Device, docsync.RoleWriter); err != nil {
			t.Fatalf("invite: %v", err)
		}
	}
	d := &Doc{Net: n, Seq: seq, Clones: clones, ID: id}
	WaitUntil(t, time.Minute, "every invited clone holds the key", func() bool {
		for _, c := range clones {
			in, err := c.Svc.Info(id)
			if err != nil || in.Role < docsync.RoleWriter || in.Applied != in.Seq {
				return false
			}
		}
		return true
	})
	return d
}

// Converged returns nil when every clone has no pending edit and the same
// seq, chain head and text as the others and as the sequencer.
func (d *Doc) Converged() error {
	h, err := d.Seq.Svc.Head(d.ID, docsync.MemberID{})
	if err != nil {
		return err
	}
	var text string
	for i, c := range d.Clones {
		in, err := c.Svc.Info(d.ID)
		if err != nil {
			return err
		}
		if in.Pending || in.Seq != h.Seq || in.Head != h.ChainHash || in.Applied != in.Seq {
			return fmt.Errorf("clone %d at seq %d (applied %d, pending %v), sequencer at %d", i, in.Seq, in.Applied, in.Pending, h.Seq)
		}
		tx, err := c.Svc.Text(d.ID)
		if err != nil {
			return err
		}
		if i == 0 {
			text = tx
		} else if tx != text {
			return fmt.Errorf("clone %d text differs from clone 0", i)
		}
	}
	return nil
}

// WaitConverged waits for Converged.
func (d *Doc) WaitConverged(limit time.Duration) {
	d.Net.T.Helper()
	var last error
	WaitUntil(d.Net.T, limit, "convergence", func() bool {
		last = d.Converged()
		return last == nil
	})
	_ = last
}

const alphabet = "abcdefghij klmnopé€𝄞\n"

// RandomEdit returns a builder for EditFunc making a random insert or
// delete on a text of the given length.
func RandomEdit(rng *rand.Rand) func(length int) ([]ot.Op, error) {
	return func(l int) ([]ot.Op, error) {
		pos := rng.IntN(l + 1)
		del := 0
		if l > 0 && rng.IntN(3) == 0 {
			del = min(1+rng.IntN(3), l-pos)
		}
		var ins strings.Builder
		if del == 0 || rng.IntN(2) == 0 {
			runes := []rune(alphabet)
			for range 1 + rng.IntN(4) {
				ins.WriteRune(runes[rng.IntN(len(runes))])
			}
		}
		op, err := ot.FromPatch(l, pos, del, ins.String())
		if err != nil {
			return nil, err
		}
		return []ot.Op{op}, nil
	}
}

// Runes counts code points (for reports).
func Runes(s string) int { return utf8.RuneCountInString(s) }

// Patch is ot.FromPatch for a test: a bad patch fails t.
func Patch(t testing.TB, n, pos, del int, ins string) ot.Op {
	t.Helper()
	op, err := ot.FromPatch(n, pos, del, ins)
	if err != nil {
		t.Fatal(err)
	}
	return op
}
