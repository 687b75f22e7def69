package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// docDemo is the CloneDoc part of c2c demo: one sequencer, the demo's
// clones editing one document, a removal mid-run, a planned move to a
// second sequencer at three quarters, then a forking sequencer.
type docDemo struct {
	g        *globals
	w        io.Writer
	start    time.Time
	base     string
	boot     []peer.AddrInfo
	opts     []node.Option
	bwc      *metrics.BandwidthCounter
	clones   []demoClone
	svcs     []*cloneservice.Service
	closeAll func(*node.Node)
	duration time.Duration
}

func (d *docDemo) progress(format string, args ...any) {
	fmt.Fprintf(d.w, "[%5.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// startSequencer starts a sequencer node named name with opts.
func (d *docDemo) startSequencer(ctx context.Context, name string, opts ...seqservice.Option) (*node.Node, *seqservice.Service, error) {
	cfg := node.DefaultConfig(node.RoleSequencer, filepath.Join(d.base, name))
	cfg.ListenAddrs = node.LoopbackListenAddrs()
	cfg.Bootstrap = d.boot
	n, err := node.New(ctx, cfg, d.opts...)
	if err != nil {
		return nil, nil, err
	}
	d.closeAll(n)
	svc, err := n.StartSequencer(opts...)
	if err != nil {
		return nil, nil, err
	}
	return n, svc, nil
}

// share creates a document on seq at clone 0 and invites the clones idx
// through the directory; it returns once every one of them can write.
func (d *docDemo) share(ctx context.Context, seq peer.AddrInfo, idx []int) (docsync.DocID, error) {
	doc, err := d.svcs[0].Create(ctx, seq)
	if err != nil {
		return doc, fmt.Errorf("create: %w", err)
	}
	for _, i := range idx {
		c := d.clones[i]
		if _, err := d.svcs[0].Invite(ctx, doc, c.user, c.device, docsync.RoleWriter); err != nil {
			return doc, fmt.Errorf("invite clone %d: %w", i, err)
		}
	}
	return doc, poll(ctx, "every invited clone can write", func() bool {
		for _, i := range append([]int{0}, idx...) {
			in, err := d.svcs[i].Info(doc)
			if err != nil || in.Role < docsync.RoleWriter || in.Applied != in.Seq {
				return false
			}
		}
		return true
	})
}

// poll checks cond every 20 ms until it holds or ctx ends.
func poll(ctx context.Context, what string, cond func() bool) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// tokens hands out unique single-code-point tokens (Supplementary Private
// Use Area-A), so an edit is found in the text by its rune, and an insert
// at a random position can never split another one.
type tokens struct {
	next atomic.Int64
	mu   sync.Mutex
	sent map[rune]sentToken
}

type sentToken struct {
	author int
	at     time.Time
}

const tokenBase = 0xF0000

func (t *tokens) new(author int) rune {
	r := rune(tokenBase + t.next.Add(1))
	t.mu.Lock()
	t.sent[r] = sentToken{author: author, at: time.Now()}
	t.mu.Unlock()
	return r
}

func isToken(r rune) bool { return r > tokenBase && r < 0xFFFFE }

// insertAt builds an insert of s at a random position.
func insertAt(rng *rand.Rand, s string) func(int) ([]ot.Op, error) {
	return func(n int) ([]ot.Op, error) {
		op, err := ot.FromPatch(n, rng.IntN(n+1), 0, s)
		return []ot.Op{op}, err
	}
}

// run is the concurrent editing phase; see runDemo.
func (d *docDemo) run(ctx context.Context) error {
	seqNode, _, err := d.startSequencer(ctx, "sequencer")
	if err != nil {
		return err
	}
	seq2Node, seq2Svc, err := d.startSequencer(ctx, "sequencer-2")
	if err != nil {
		return err
	}
	others := make([]int, 0, len(d.clones)-1)
	for i := 1; i < len(d.clones); i++ {
		others = append(others, i)
	}
	doc, err := d.share(ctx, seqNode.AddrInfo(), others)
	if err != nil {
		return err
	}
	d.progress("document %s created on clone 0, %d clones invited through the directory", doc.String(), len(others))

	removed := len(d.clones) - 1 // removed mid-run
	tk := &tokens{sent: map[rune]sentToken{}}
	var mu sync.Mutex
	var latencies []time.Duration
	var readers sync.WaitGroup
	var cancels []func()
	for i, svc := range d.svcs {
		ch, cancel, err := svc.Subscribe(doc)
		if err != nil {
			return err
		}
		cancels = append(cancels, cancel)
		readers.Add(1)
		go func() {
			defer readers.Done()
			for ev := range ch {
				if ev.Kind != cloneservice.EventUpdate || ev.Op == nil || i == removed {
					continue
				}
				now := time.Now()
				for _, c := range ev.Op.Comps {
					for _, r := range c.Text {
						if !isToken(r) {
							continue
						}
						tk.mu.Lock()
						s, ok := tk.sent[r]
						tk.mu.Unlock()
						if ok && s.author != i {
							mu.Lock()
							latencies = append(latencies, now.Sub(s.at))
							mu.Unlock()
						}
					}
				}
			}
		}()
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
		readers.Wait()
	}()

	before := sweptTotals(ctx, d.bwc)
	beforeProto := d.bwc.GetBandwidthByProtocol()
	var acked atomic.Int64
	var ackedMu sync.Mutex
	ackedTokens := map[rune]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, svc := range d.svcs {
		rng := rand.New(rand.NewPCG(uint64(i), 42))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(40+rng.IntN(80)) * time.Millisecond):
				}
				r := tk.new(i)
				if err := svc.EditFunc(ctx, doc, insertAt(rng, string(r))); err != nil {
					if i == removed {
						return // removed: it lost its write right
					}
					continue
				}
				acked.Add(1)
				ackedMu.Lock()
				ackedTokens[r] = i != removed
				ackedMu.Unlock()
			}
		}()
	}
	t0 := time.Now()
	d.progress("16 clones editing concurrently for %v", d.duration)
	select {
	case <-ctx.Done():
	case <-time.After(d.duration / 2):
	}
	// The removal runs beside the edits; it returns once committed.
	rmDone := make(chan error, 1)
	go func() {
		m, err := netproto.MemberOf(d.clones[removed].node.ID())
		if err == nil {
			t := time.Now()
			if err = d.svcs[0].Remove(ctx, doc, m); err == nil {
				d.progress("clone %d removed from the document (new key epoch), committed after %v; %d edits acknowledged so far",
					removed, time.Since(t).Round(time.Millisecond), acked.Load())
			}
		}
		rmDone <- err
	}()
	select {
	case <-ctx.Done():
	case <-time.After(3*d.duration/4 - time.Since(t0)):
	}
	// The planned move also runs beside the edits: clone 0 (the admin)
	// moves the document to the second sequencer; every member follows.
	moveDone := make(chan error, 1)
	var moveSeq uint64
	go func() {
		t := time.Now()
		mv, err := d.svcs[0].Move(ctx, doc, seq2Node.AddrInfo(), false)
		if err == nil {
			moveSeq = mv.Seq
			d.progress("document moved to a second sequencer (planned move at seq %d, history adopted) after %v; %d edits acknowledged so far",
				mv.Seq, time.Since(t).Round(time.Millisecond), acked.Load())
		}
		moveDone <- err
	}()
	select {
	case <-ctx.Done():
	case <-time.After(d.duration - time.Since(t0)):
	}
	close(stop)
	wg.Wait()
	if err := <-rmDone; err != nil {
		return fmt.Errorf("remove clone %d: %w", removed, err)
	}
	if err := <-moveDone; err != nil {
		return fmt.Errorf("move to the second sequencer: %w", err)
	}
	ops := acked.Load()
	d.progress("editing stopped: %d edits acknowledged; waiting for convergence", ops)

	live := d.svcs[:removed]
	converged := poll(ctx, "convergence", func() bool { return convergedOn(seq2Svc, doc, live) == nil }) == nil
	after := sweptTotals(ctx, d.bwc)
	afterProto := d.bwc.GetBandwidthByProtocol()
	text, _ := live[0].Text(doc)
	missing, dup, rmAcked, rmIn := 0, 0, 0, 0
	counts := map[rune]int{}
	for _, r := range text {
		if isToken(r) {
			counts[r]++
		}
	}
	ackedMu.Lock()
	for r, live := range ackedTokens {
		if counts[r] > 1 {
			dup++
		}
		if !live {
			// The removed member's edits still in flight at the removal are
			// dropped by design (it lost its write right).
			rmAcked++
			rmIn += min(counts[r], 1)
			continue
		}
		if counts[r] == 0 {
			missing++
		}
	}
	liveAcked := len(ackedTokens) - rmAcked
	ackedMu.Unlock()
	inRm, _ := d.svcs[removed].Info(doc)
	inLive, _ := live[0].Info(doc)
	elapsed := time.Since(t0)

	w := d.w
	fmt.Fprintf(w, "CloneDoc: 2 sequencers, %d clones editing one document (%v, one removal mid-run, a planned move to the second sequencer at 3/4)\n", len(d.clones), d.duration)
	fmt.Fprintf(w, "  %-28s %s\n", "converged", yesNo(converged))
	fmt.Fprintf(w, "  %-28s planned move at seq %d; every member follows the second sequencer (%s)\n", "moved", moveSeq, seq2Node.ID())
	fmt.Fprintf(w, "  %-28s %d edits acknowledged, %d entries committed (seq %d), %.0f edits/s\n", "ops", ops, inLive.Seq, inLive.Seq, float64(ops)/elapsed.Seconds())
	fmt.Fprintf(w, "  %-28s %d of %d acknowledged edits of the members missing, %d duplicated\n", "acknowledged edits in text", missing, liveAcked, dup)
	fmt.Fprintf(w, "  %-28s p50 %v, p99 %v (%d author->other-clone pairs)\n", "latency (edit -> applied)", percentile(latencies, 0.50), percentile(latencies, 0.99), len(latencies))
	out := after.TotalOut - before.TotalOut
	fmt.Fprintf(w, "  %-28s %.0f bytes/op sent by all hosts (%d bytes; libp2p bandwidth counter on every stream, all protocols, incl. fan-out to %d clones)\n",
		"bytes per op", float64(out)/float64(max(ops, 1)), out, len(d.clones)-1)
	fmt.Fprintf(w, "  %-28s %s\n", "bytes per op by protocol", protoBreakdown(beforeProto, afterProto, ops))
	fmt.Fprintf(w, "  %-28s clone %d can read up to seq %d (key epoch %d); the members are at seq %d (epoch %d); %d of its %d acknowledged edits made it before the removal\n",
		"removed member", removed, inRm.Applied, inRm.Epoch, inLive.Seq, inLive.Epoch, rmIn, rmAcked)
	if !converged {
		return errors.New("the clones did not converge")
	}
	if missing > 0 || dup > 0 {
		return fmt.Errorf("%d acknowledged edits missing and %d duplicated", missing, dup)
	}
	if err := d.showPresence(ctx, doc, live, inLive.Epoch); err != nil {
		return err
	}
	return d.showDormant(ctx, doc, live)
}

// showPresence puts a caret on clone 0's text (as its device would) and
// waits until clone 1 sees it: presence goes clone to clone on the
// document's presence topic, sealed under the current key epoch, and is
// never sequenced.
func (d *docDemo) showPresence(ctx context.Context, doc docsync.DocID, live []*cloneservice.Service, epoch uint64) error {
	if len(live) < 2 {
		return nil
	}
	me, err := netproto.MemberOf(d.clones[0].node.ID())
	if err != nil {
		return err
	}
	seen := make(chan struct{})
	var once sync.Once
	watch, _, err := live[1].Attach(ctx, doc, func(c cloneservice.Change) {
		for _, k := range c.Presence {
			if k.Member == me && k.Device == "demo" && k.Anchor == 1 && k.Head == 4 {
				once.Do(func() { close(seen) })
			}
		}
	})
	if err != nil {
		return err
	}
	defer watch.Detach()
	own, _, err := live[0].Attach(ctx, doc, func(cloneservice.Change) {})
	if err != nil {
		return err
	}
	defer own.Detach()
	t := time.Now()
	if err := own.SetCaret(ctx, "demo", func() (int, int, bool) { return 1, 4, true }); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		return errors.New("presence: clone 1 did not see clone 0's selection within 10s")
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintf(d.w, "  %-28s clone 1 saw clone 0's selection (1..4) after %v: clone to clone on the presence topic, sealed under key epoch %d, never sequenced\n",
		"presence", time.Since(t).Round(time.Millisecond), epoch)
	own.ClearCaret("demo") // the device leaves, as device/server's hub does: a caret of ours keeps the document awake
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// sweptTotals returns the bandwidth totals once go-flow-metrics' sweeper
// (1 s) has published a new sample, so a window's edges are current.
func sweptTotals(ctx context.Context, bwc *metrics.BandwidthCounter) metrics.Stats {
	first := bwc.GetBandwidthTotals()
	var s metrics.Stats
	_ = poll(ctx, "bandwidth sample", func() bool {
		s = bwc.GetBandwidthTotals()
		return s.TotalOut != first.TotalOut
	})
	return s
}

// convergedOn is nil when every svc has no pending edit and the same seq,
// chain head and text as the sequencer's head.
func convergedOn(seq *seqservice.Service, doc docsync.DocID, svcs []*cloneservice.Service) error {
	h, err := seq.Head(doc, docsync.MemberID{})
	if err != nil {
		return err
	}
	var text string
	for i, s := range svcs {
		in, err := s.Info(doc)
		if err != nil {
			return err
		}
		if in.Pending || in.Seq != h.Seq || in.Head != h.ChainHash || in.Applied != in.Seq {
			return fmt.Errorf("clone %d at seq %d, sequencer at %d", i, in.Seq, h.Seq)
		}
		tx, err := s.Text(doc)
		if err != nil {
			return err
		}
		if i == 0 {
			text = tx
		} else if tx != text {
			return fmt.Errorf("clone %d text differs", i)
		}
	}
	return nil
}

// protoBreakdown lists the bytes sent per op of the protocols that carried
// the most between two samples of the bandwidth counter.
func protoBreakdown(before, after map[protocol.ID]metrics.Stats, ops int64) string {
	type row struct {
		p protocol.ID
		n int64
	}
	var rows []row
	for p, s := range after {
		if n := s.TotalOut - before[p].TotalOut; n > 0 {
			rows = append(rows, row{p, n})
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(b.n, a.n) })
	var parts []string
	for _, r := range rows[:min(len(rows), 4)] {
		name := string(r.p)
		if name == "" {
			// Bytes on streams before their protocol was negotiated
			// (multistream-select), which the counter files under "".
			name = "(negotiation)"
		}
		parts = append(parts, fmt.Sprintf("%s %.0f", name, float64(r.n)/float64(max(ops, 1))))
	}
	return strings.Join(parts, ", ")
}
