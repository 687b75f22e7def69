package netsim

import (
	"context"
	"crypto/ed25519"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// tokenWriter types one token rune per edit right after its previous one,
// and records the tokens of the edits that were acknowledged.
type tokenWriter struct {
	c     *Clone
	w     int
	acked []rune
	n     atomic.Int64 // len(acked), for readers while it edits
}

func (tw *tokenWriter) edit(ctx context.Context, doc docsync.DocID) error {
	tok := rune(0xF0000 + tw.w*8192 + len(tw.acked))
	err := tw.c.Svc.EditBase(ctx, doc, func(b cloneservice.Base) ([]ot.Op, error) {
		text := []rune(b.Text())
		pos := 0
		if n := len(tw.acked); n > 0 {
			pos = slices.Index(text, tw.acked[n-1]) + 1
		}
		op, err := ot.FromPatch(len(text), pos, 0, string(tok)+"x")
		return []ot.Op{op}, err
	})
	if err == nil {
		tw.acked = append(tw.acked, tok)
		tw.n.Store(int64(len(tw.acked)))
	}
	return err
}

// startWriters starts one tokenWriter per clone of d, each editing every
// pace(i) (a typist's pace, virtual time) until the returned stop, which
// waits for them.
func startWriters(ctx context.Context, t *testing.T, d *Doc, pace func(i int) time.Duration) ([]*tokenWriter, func()) {
	ws := make([]*tokenWriter, len(d.Clones))
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i, c := range d.Clones {
		ws[i] = &tokenWriter{c: c, w: i}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := ws[i].edit(ctx, d.ID); err != nil {
					t.Errorf("writer %d: %v", i, err)
					return
				}
				time.Sleep(pace(i))
			}
		}()
	}
	return ws, func() {
		stop.Store(true)
		wg.Wait()
	}
}

// checkTokens checks that every acknowledged token is in text exactly
// once, each writer's in the order it typed them.
func checkTokens(t *testing.T, text string, ws []*tokenWriter) int {
	t.Helper()
	rs := []rune(text)
	total := 0
	for _, tw := range ws {
		last := -1
		for k, tok := range tw.acked {
			i := slices.Index(rs, tok)
			if i < 0 || slices.Index(rs[i+1:], tok) >= 0 {
				t.Fatalf("writer %d's acknowledged edit %d is not in the text exactly once", tw.w, k)
			}
			if i < last {
				t.Fatalf("writer %d's edit %d comes before its edit %d", tw.w, k, k-1)
			}
			last = i
		}
		total += len(tw.acked)
	}
	return total
}

// startTokenWriters starts one tokenWriter per clone, each editing at a
// typist's pace (virtual time) until the returned stop; with strict an
// edit that fails fails the test, else it is only not acknowledged.
func startTokenWriters(ctx context.Context, t *testing.T, doc docsync.DocID, clones []*Clone, strict bool) ([]*tokenWriter, func()) {
	ws := make([]*tokenWriter, len(clones))
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i, c := range clones {
		ws[i] = &tokenWriter{c: c, w: i}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := ws[i].edit(ctx, doc); err != nil && strict {
					t.Errorf("writer %d: %v", i, err)
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	return ws, func() { stop.Store(true); wg.Wait() }
}

// settleTokens waits until every clone's edits are committed and the
// clones converged on seq, and checks the tokens (checkTokens) in the
// text; it returns the number of acknowledged edits.
func settleTokens(ctx context.Context, t *testing.T, d *Doc, seq *Sequencer, clones []*Clone, ws []*tokenWriter) int {
	t.Helper()
	for _, c := range clones {
		if err := c.Svc.WaitCommitted(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	d.Seq = seq
	d.WaitConverged(time.Minute)
	text, err := clones[1].Svc.Text(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	return checkTokens(t, text, ws)
}

// TestMoveAndFailover moves a document over real hosts while 4 clones
// keep editing: a planned move from sequencer A to B (Service.Move), then
// B stops ordering (frozen) and the admin's clone, its stall alarm up,
// moves the document to its standby C by itself. Every acknowledged edit
// is in the final text exactly once and in its author's order, every
// clone is on C with the same text and chain, and a clone restarted from
// its datastore is still on C.
func TestMoveAndFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 10*time.Millisecond)
		var frozen atomic.Bool
		seqA := n.AddSequencer()
		seqB := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
			return freezable{sequencer.NewHonest(doc, key), &frozen}
		}))
		seqC := n.AddSequencer()
		params := cloneservice.DefaultParams()
		params.StallAfter = 5 * time.Second
		var clones []*Clone
		for i := range 4 {
			opts := []cloneservice.Option{cloneservice.WithParams(params)}
			if i == 0 {
				opts = append(opts, cloneservice.WithStandby(seqC.Info()))
			}
			clones = append(clones, n.AddClone(opts...))
		}
		d := n.NewDoc(seqA, clones...)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()

		ws, stopWriters := startTokenWriters(ctx, t, d.ID, clones, true)
		time.Sleep(2 * time.Second)
		mv, err := clones[0].Svc.Move(ctx, d.ID, seqB.Info(), false)
		if err != nil {
			t.Fatalf("planned move: %v", err)
		}
		t.Logf("planned move committed at seq %d; sequencer B adopted the history", mv.Seq)
		time.Sleep(2 * time.Second)
		frozen.Store(true)
		frozeAt := time.Now()
		WaitUntil(t, time.Minute, "the admin's clone fails over to the standby", func() bool {
			in, err := clones[0].Svc.Info(d.ID)
			return err == nil && in.Sequencer == seqC.H.ID()
		})
		t.Logf("failover to the standby %v after B froze (virtual time)", time.Since(frozeAt).Round(time.Millisecond))
		time.Sleep(2 * time.Second)
		stopWriters()
		acked := settleTokens(ctx, t, d, seqC, clones, ws)
		in, _ := clones[1].Svc.Info(d.ID)
		t.Logf("%d acknowledged edits, each once and in order; seq %d on the standby", acked, in.Seq)

		// kill and restart a clone that is not the admin: it comes back on C.
		c := clones[2]
		c.StopService()
		n.StartClone(c, cloneservice.WithParams(params))
		in, err = c.Svc.Info(d.ID)
		if err != nil || in.Sequencer != seqC.H.ID() {
			t.Fatalf("restarted clone: sequencer %v (err %v), want the standby %v", in.Sequencer, err, seqC.H.ID())
		}
		if err := ws[2].edit(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		text, _ := clones[0].Svc.Text(d.ID)
		checkTokens(t, text, ws)
	})
}

// hiding is the honest orderer that, once hide is set, shows one member
// nothing it orders: no delivery, and history only up to hideFrom-1.
type hiding struct {
	sequencer.Honest
	from     docsync.MemberID
	hide     *atomic.Bool
	hideFrom *atomic.Uint64
}

func (h hiding) Order(env *docsync.Envelope) (sequencer.Ordered, error) {
	o, err := h.Honest.Order(env)
	if err != nil || !h.hide.Load() {
		return o, err
	}
	for i := range o.Publish {
		o.Publish[i].To = func(m docsync.MemberID) bool { return m != h.from }
	}
	return o, nil
}

func (h hiding) Head(who docsync.MemberID) (docsync.Head, bool) {
	hd, _ := h.Honest.Head(who)
	return hd, !h.hide.Load()
}

func (h hiding) History(who docsync.MemberID, from, to uint64, stored func(from, to uint64) [][]byte) ([][]byte, error) {
	if h.hide.Load() && who == h.from {
		to = min(to, h.hideFrom.Load()-1)
	}
	if from > to {
		return nil, nil
	}
	return stored(from, to), nil
}

// TestTakeoverRollback: the sequencer hides its last entries from the
// admin's clone, which then takes over from its older head; the members
// that committed those entries roll back to follow the takeover, resend
// their edits, and every acknowledged edit ends up once in the text.
func TestTakeoverRollback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 10*time.Millisecond)
		var hide atomic.Bool
		var hideFrom atomic.Uint64
		var admin atomic.Pointer[docsync.MemberID]
		seqA := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
			var from docsync.MemberID
			if p := admin.Load(); p != nil {
				from = *p
			}
			return hiding{sequencer.NewHonest(doc, key), from, &hide, &hideFrom}
		}))
		seqC := n.AddSequencer()
		clones := n.AddClones(3)
		m := clones[0].Svc.ID()
		admin.Store(&m)
		d := n.NewDoc(seqA, clones...)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		ws := make([]*tokenWriter, len(clones))
		for i, c := range clones {
			ws[i] = &tokenWriter{c: c, w: i}
			if err := ws[i].edit(ctx, d.ID); err != nil {
				t.Fatal(err)
			}
		}
		d.WaitConverged(time.Minute)
		in, _ := clones[0].Svc.Info(d.ID)
		hideFrom.Store(in.Seq + 1)
		hide.Store(true)
		// b's and c's edits go to A, which orders them and shows them to
		// b and c only; meanwhile the admin takes over from its head, and
		// the adoption's round trips make the takeover reach b and c after
		// A's entries did.
		for _, i := range []int{1, 2} {
			if err := ws[i].edit(ctx, d.ID); err != nil {
				t.Fatal(err)
			}
		}
		mv, err := clones[0].Svc.Move(ctx, d.ID, seqC.Info(), true)
		if err != nil {
			t.Fatalf("takeover: %v", err)
		}
		t.Logf("takeover at seq %d; the hidden entries began at seq %d", mv.Seq, hideFrom.Load())
		for _, tw := range ws {
			if err := tw.edit(ctx, d.ID); err != nil {
				t.Fatal(err)
			}
		}
		d.Seq = seqC
		d.WaitConverged(time.Minute)
		text, _ := clones[0].Svc.Text(d.ID)
		acked := checkTokens(t, text, ws)
		rolled := 0
		for _, c := range clones[1:] {
			rolled += int(c.Svc.Stats().Rollbacks)
		}
		if mv.Seq == hideFrom.Load() && rolled == 0 {
			t.Fatal("the members ahead of the takeover did not roll back")
		}
		t.Logf("%d rollbacks; %d acknowledged edits, each once and in order", rolled, acked)
	})
}

// TestEditAfterMoveIsNotHeldBack: an edit made just after a planned move
// reaches the other members at the new sequencer's pace, not after a
// resubmit. Members publish on the submit topic without subscribing to
// it; without flood publish (go-libp2p-pubsub v0.17 leaves it off unless
// asked: netproto.GossipOptions) gossipsub sent their envelopes only to
// the fanout it chose at their first publish, which held just the old
// sequencer until a heartbeat added the new one, so every writer's first
// envelopes after the move were lost, and they and every edit behind
// them waited ResubmitAfter (2 s in virtual time).
func TestEditAfterMoveIsNotHeldBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 10*time.Millisecond)
		seqA, seqB := n.AddSequencer(), n.AddSequencer()
		clones := n.AddClones(4)
		d := n.NewDoc(seqA, clones...)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		ws, stopWriters := startTokenWriters(ctx, t, d.ID, clones, true)
		time.Sleep(2 * time.Second)
		if _, err := clones[0].Svc.Move(ctx, d.ID, seqB.Info(), false); err != nil {
			t.Fatalf("planned move: %v", err)
		}
		movedAt := time.Now()
		const tok = "\U000FFFFF" // no writer's token
		if err := clones[1].Svc.EditFunc(ctx, d.ID, func(n int) ([]ot.Op, error) {
			op, err := ot.FromPatch(n, 0, 0, tok)
			return []ot.Op{op}, err
		}); err != nil {
			t.Fatal(err)
		}
		WaitUntil(t, time.Minute, "clone 1's edit after the move at clone 2", func() bool {
			text, _ := clones[2].Svc.Text(d.ID)
			return strings.Contains(text, tok)
		})
		took := time.Since(movedAt)
		stopWriters()
		if limit := cloneservice.DefaultParams().ResubmitAfter / 2; took >= limit {
			t.Fatalf("an edit made after the move reached another member after %v (virtual), want under %v", took, limit)
		}
		t.Logf("an edit made after the move reached another member after %v (virtual)", took)
		settleTokens(ctx, t, d, seqB, clones, ws) // every acknowledged edit once, in order
	})
}
