package control

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync/netsim"
)

// c2c doc move's API: an admin moves a document to another sequencer, show
// names the new one on both clones, edits go on there; a writer may not
// move it, and a move to the sequencer the document is on is refused.
func TestControlMove(t *testing.T) {
	n := netsim.NewLoopback(t)
	seqA, seqB := n.AddSequencer(), n.AddSequencer()
	a, b := n.AddClone(), n.AddClone()
	d := n.NewDoc(seqA, a, b)
	_, ca := serve(t, a)
	_, cb := serve(t, b)
	docHex := hexOf(d.ID[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := ca.Edit(ctx, docHex, EditRequest{Kind: EditAppend, Text: "before "}); err != nil {
		t.Fatal(err)
	}
	addrB := seqB.Info().Addrs[0].String() + "/p2p/" + seqB.H.ID().String()
	if _, err := cb.Move(ctx, docHex, MoveRequest{Sequencer: addrB}); err == nil {
		t.Fatal("a writer moved the document")
	} else {
		t.Logf("writer: %v", err)
	}
	if _, err := ca.Move(ctx, docHex, MoveRequest{Sequencer: "/p2p/" + seqA.H.ID().String()}); err == nil {
		t.Fatal("moved to the sequencer the document is on")
	} else {
		t.Logf("same sequencer: %v", err)
	}
	mv, err := ca.Move(ctx, docHex, MoveRequest{Sequencer: addrB})
	if err != nil {
		t.Fatalf("move: %v", err)
	}
	if mv.Seq == 0 || mv.From != mv.Seq+1 || mv.Takeover || mv.Sequencer != seqB.H.ID().String() {
		t.Fatalf("move result %+v", mv)
	}
	if _, err := cb.Edit(ctx, docHex, EditRequest{Kind: EditAppend, Text: "after"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both clones on B with the same text", func() bool {
		ia, errA := ca.Show(ctx, docHex)
		ib, errB := cb.Show(ctx, docHex)
		return errA == nil && errB == nil && ia.Sequencer == seqB.H.ID().String() && ib.Sequencer == ia.Sequencer &&
			!ia.Pending && !ib.Pending && ia.Seq == ib.Seq && ia.Text == ib.Text && ia.Text == "before after"
	})
	if _, err := ca.Move(ctx, "00000000", MoveRequest{Sequencer: addrB}); !errors.Is(err, ErrUnknownDoc) {
		t.Fatalf("move of an unknown document: %v", err)
	}
}
