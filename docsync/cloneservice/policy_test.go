package cloneservice

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/clone2clone/c2c/internal/clock"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// The policy tests run the service's loop on a fake clock (WithClock,
// WithTicker) with a fake Net and fake topics in front of an in-memory
// honest sequencer: no host, no pubsub, no simulated network. The loop
// and its helper goroutines run in a synctest bubble only so that
// synctest.Wait says when they have all settled after a tick.

// call is one thing the policies sent, at a fake time since the start.
type call struct {
	at   time.Duration
	what string
}

// policyNet is the fake Net and both fake topics.
type policyNet struct {
	s     *Service
	clk   *clock.Fake
	start time.Time
	seq   *sequencer.Memory
	seqP  peer.ID
	doc   docsync.DocID
	names map[peer.ID]string

	mu          sync.Mutex
	calls       []call
	registerErr error            // the register stream fails while set
	deliver     bool             // entries ordered from the submit topic come back
	serve       map[peer.ID]bool // who answers history requests
	connected   map[peer.ID]bool
}

func (n *policyNet) record(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, call{n.clk.Now().Sub(n.start), fmt.Sprintf(format, args...)})
}

// took returns the calls that start with prefix, and when.
func (n *policyNet) took(prefix string) []call {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []call
	for _, c := range n.calls {
		if len(c.what) >= len(prefix) && c.what[:len(prefix)] == prefix {
			out = append(out, c)
		}
	}
	return out
}

func (n *policyNet) Request(_ context.Context, p peer.ID, proto protocol.ID, body []byte, _ int) ([]byte, error) {
	n.record("request %s %s", proto, n.names[p])
	n.mu.Lock()
	err := n.registerErr
	n.mu.Unlock()
	if proto != netproto.RegisterProtocol {
		return nil, errors.New("policyNet: not served")
	}
	if err != nil {
		return nil, err
	}
	env, err := docsync.DecodeEnvelope(body)
	if err != nil {
		return nil, err
	}
	n.mu.Lock() // the in-memory sequencer is not safe for concurrent use
	ds := n.seq.Submit(env)
	n.mu.Unlock()
	if len(ds) == 0 {
		return nil, errors.New("policyNet: refused")
	}
	return ds[0].Entry.Marshal()
}

func (n *policyNet) FetchHistory(_ context.Context, p peer.ID, _ docsync.DocID, from, to uint64) ([]*docsync.Entry, error) {
	n.record("fetch %s %d-%d", n.names[p], from, to)
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.serve[p] {
		return nil, errors.New("policyNet: no answer")
	}
	return n.seq.Fetch(docsync.MemberID{}, from, to), nil
}

func (n *policyNet) Connected(p peer.ID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.connected[p]
}

func (n *policyNet) PeerInfo(p peer.ID) peer.AddrInfo {
	return peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4001")}}
}

func (n *policyNet) Connect(_ context.Context, ai peer.AddrInfo) error {
	n.record("dial %s", n.names[ai.ID])
	return nil
}

// policyTopic is the submit or the heads topic.
type policyTopic struct {
	n    *policyNet
	name string
}

func (t policyTopic) Publish(_ context.Context, b []byte, _ ...pubsub.PubOpt) error {
	t.n.record("publish %s", t.name)
	if t.name != "submit" {
		return nil
	}
	env, err := docsync.DecodeEnvelope(b)
	if err != nil {
		return err
	}
	t.n.mu.Lock()
	ds, deliver := t.n.seq.Submit(env), t.n.deliver
	t.n.mu.Unlock()
	if deliver {
		for _, d := range ds {
			e, doc := d.Entry, t.n.doc
			t.n.s.post(func() { t.n.s.onEntries(doc, []*docsync.Entry{e}) })
		}
	}
	return nil
}

func (t policyTopic) ListPeers() []peer.ID { return []peer.ID{t.n.seqP} }

// policyHarness is one clone's service with one document it created.
type policyHarness struct {
	t   *testing.T
	s   *Service
	d   *docState
	net *policyNet
	clk *clock.Fake
}

func newPolicyHarness(t *testing.T, registerErr error) *policyHarness {
	t.Helper()
	id, err := docsync.NewIdentity(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	seqPub, seqPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	seqP, err := netproto.PeerOf(seqPub)
	if err != nil {
		t.Fatal(err)
	}
	doc := docsync.DocID{7}
	r, err := docsync.Create(docsync.Config{Doc: doc, Sequencer: seqPub, Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	n := &policyNet{clk: clk, start: start, doc: doc, seq: sequencer.NewMemory(doc, seqPriv), seqP: seqP,
		names: map[peer.ID]string{seqP: "sequencer"}, registerErr: registerErr, deliver: true,
		serve: map[peer.ID]bool{seqP: true}, connected: map[peer.ID]bool{seqP: true}}
	o := options{params: DefaultParams(), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		now: clk.Now, ticker: clk.NewTicker, net: n}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{ds: dssync.MutexWrap(datastore.NewMapDatastore()), id: id, me: id.ID(), params: o.params,
		opts: o, now: o.now, net: n, log: o.log, ctx: ctx, cancel: cancel, reqs: make(chan func()),
		docs: map[docsync.DocID]*docState{}, failed: map[docsync.DocID]error{},
		waitLog: guard.NewLimiter[docsync.DocID](guard.Rate{PerSecond: 1.0 / 60, Burst: 1}, 16)}
	n.s = s
	d := &docState{id: doc, seqPeer: seqP, r: r, subs: map[int]*subscriber{},
		submitOut: policyTopic{n, "submit"}, headsOut: policyTopic{n, "heads"}, agreed: &agreedHeads{}}
	s.docs[doc] = d
	s.wg.Add(1)
	go s.loop()
	t.Cleanup(func() { cancel(); s.wg.Wait() })
	h := &policyHarness{t: t, s: s, d: d, net: n, clk: clk}
	h.onLoop(func() { _ = s.handleReady(d) }) // sends the genesis
	return h
}

// onLoop runs f on the loop and waits until every goroutine settled.
func (h *policyHarness) onLoop(f func()) {
	h.t.Helper()
	if err := h.s.do(context.Background(), f); err != nil {
		h.t.Fatal(err)
	}
	synctest.Wait()
}

// run advances the fake clock by d in ticks, letting everything settle
// after each.
func (h *policyHarness) run(d time.Duration) {
	for step := h.s.params.Tick; d > 0; d -= step {
		h.clk.Advance(step)
		synctest.Wait()
	}
}

func (h *policyHarness) seq() (seq uint64) {
	h.onLoop(func() { seq = h.d.r.Log().Seq() })
	return seq
}

func ats(cs []call) []time.Duration {
	var out []time.Duration
	for _, c := range cs {
		out = append(out, c.at)
	}
	return out
}

// A genesis the sequencer does not take is registered again after
// ResubmitAfter, doubling per failure; once it takes it, the document is
// committed and nothing more is sent.
func TestPolicyRegisterBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newPolicyHarness(t, errors.New("sequencer says no"))
		h.run(30 * time.Second)
		want := []time.Duration{0, 4 * time.Second, 12 * time.Second, 28 * time.Second}
		if got := ats(h.net.took("request " + string(netproto.RegisterProtocol))); !slices.Equal(got, want) {
			t.Fatalf("registered at %v, want %v", got, want)
		}
		// Each resend is followed by one catch-up: the sequencer, then (no
		// member being connected) the sequencer once more, and no more.
		if got := ats(h.net.took("fetch sequencer")); !slices.Equal(got, []time.Duration{want[1], want[1], want[2], want[2], want[3], want[3]}) {
			t.Fatalf("fetched at %v, want twice after each resend", got)
		}
		h.net.mu.Lock()
		h.net.registerErr = nil
		h.net.mu.Unlock()
		h.run(40 * time.Second) // the next try is due 32 s after the last
		if got := ats(h.net.took("request " + string(netproto.RegisterProtocol))); len(got) != 5 || got[4] != 60*time.Second {
			t.Fatalf("registered at %v, want a fifth time at 60s", got)
		}
		if seq := h.seq(); seq != 1 {
			t.Fatalf("seq %d after the sequencer took the genesis", seq)
		}
	})
}

// An edit whose entry is lost on the way is sent again after
// ResubmitAfter, on the submit stream, and the catch-up that follows the resend fetches the
// entry the sequencer had ordered the first time.
func TestPolicyResubmitThenCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newPolicyHarness(t, nil)
		if seq := h.seq(); seq != 1 {
			t.Fatalf("seq %d after the genesis", seq)
		}
		h.net.mu.Lock()
		h.net.deliver = false
		h.net.mu.Unlock()
		h.onLoop(func() {
			op, err := ot.FromPatch(0, 0, 0, "hello")
			if err != nil {
				t.Fatal(err)
			}
			if err := h.d.r.Propose(op); err != nil {
				t.Fatal(err)
			}
			_ = h.s.handleReady(h.d)
		})
		h.run(5 * time.Second)
		if got, want := ats(h.net.took("publish submit")), []time.Duration{0}; !slices.Equal(got, want) {
			t.Fatalf("envelope published at %v, want %v", got, want)
		}
		// The resend goes on a stream: to the sequencer's seen-cache the
		// same bytes on the topic are a duplicate.
		if got, want := ats(h.net.took("request /c2c/doc/submit/1.0.0 sequencer")), []time.Duration{2 * time.Second}; !slices.Equal(got, want) {
			t.Fatalf("envelope resent at %v, want %v", got, want)
		}
		if got := h.net.took("fetch sequencer 2-"); len(got) != 1 || got[0].at != 2*time.Second {
			t.Fatalf("catch-up fetches %v, want one at 2s", got)
		}
		var text string
		var inflight *docsync.Envelope
		h.onLoop(func() { text, inflight = h.d.r.CommittedText(), h.d.r.InFlight() })
		if text != "hello" || inflight != nil {
			t.Fatalf("committed %q, in flight %v", text, inflight)
		}
	})
}

// A gap the sequencer does not fill is asked of a member at once, and
// retried every FetchRetry, every other retry straight from a member.
// Members and the sequencer that are not connected are dialed every
// DialInterval.
func TestPolicyFetchRetriesAndDials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newPolicyHarness(t, nil)
		other, err := docsync.NewIdentity(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		oid := other.ID()
		b, err := netproto.PeerOf(oid[:])
		if err != nil {
			t.Fatal(err)
		}
		h.net.mu.Lock()
		h.net.names[b] = "member"
		h.net.mu.Unlock()
		h.onLoop(func() {
			if err := h.d.r.AddMember(other.ID(), other.HPKEPublic(), docsync.RoleWriter); err != nil {
				t.Fatal(err)
			}
			_ = h.s.handleReady(h.d)
		})
		if seq := h.seq(); seq != 2 {
			t.Fatalf("seq %d after adding a member", seq)
		}
		// The sequencer orders an edit but its entry is lost and the
		// sequencer stops answering; the member is connected.
		h.net.mu.Lock()
		h.net.deliver, h.net.serve[h.net.seqP], h.net.connected[b] = false, false, true
		h.net.mu.Unlock()
		h.onLoop(func() {
			op, _ := ot.FromPatch(0, 0, 0, "x")
			_ = h.d.r.Propose(op)
			_ = h.s.handleReady(h.d)
		})
		h.onLoop(func() {
			_ = h.d.r.HandleHead(h.net.seq.Head(docsync.MemberID{}))
			_ = h.s.handleReady(h.d)
		})
		h.run(3500 * time.Millisecond)
		var got []string
		for _, c := range h.net.took("fetch") {
			got = append(got, fmt.Sprintf("%v %s", c.at, c.what))
		}
		want := []string{
			// the head shows the gap; it is fetched once it outlasts GapWait
			"100ms fetch sequencer 3-3", "100ms fetch member 3-3",
			"1.1s fetch sequencer 3-3", "1.1s fetch member 3-3", // retry 1: the sequencer first
			"2.1s fetch member 3-3", // retry 2: a member
			"3.1s fetch sequencer 3-3", "3.1s fetch member 3-3",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("fetches\n%q\nwant\n%q", got, want)
		}
		// The member answers: the gap closes and the fetches stop.
		h.net.mu.Lock()
		h.net.serve[b] = true
		h.net.mu.Unlock()
		h.run(2 * time.Second)
		if seq := h.seq(); seq != 3 {
			t.Fatalf("seq %d after the member served the gap", seq)
		}
		n := len(h.net.took("fetch"))
		h.run(3 * time.Second)
		if len(h.net.took("fetch")) != n {
			t.Fatal("fetches went on after the gap closed")
		}

		// Dials: every DialInterval, the peers not connected.
		h.net.mu.Lock()
		h.net.connected[b], h.net.connected[h.net.seqP] = false, false
		h.net.calls = nil
		h.net.mu.Unlock()
		h.run(4 * time.Second)
		if got := h.net.took("dial"); len(got) != 4 ||
			got[0].at != got[1].at || got[2].at != got[3].at || got[2].at-got[0].at != 2*time.Second {
			t.Fatalf("dials %v, want the member and the sequencer every 2s", got)
		}
		h.net.mu.Lock()
		h.net.connected[b], h.net.connected[h.net.seqP] = true, true
		h.net.mu.Unlock()
		n = len(h.net.took("dial"))
		h.run(4 * time.Second)
		if len(h.net.took("dial")) != n {
			t.Fatal("dialed peers that are connected")
		}
	})
}

// Group commit defers what inputs queued together changed until the loop
// has run them all, but an API call queued among them runs on a flushed
// loop: what came in before it is durable and reported (sent, observed)
// first, so an edit built on a Base cannot overtake it.
func TestPolicyAPICallSeesFlushedLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newPolicyHarness(t, nil)
		release := make(chan struct{})
		go func() { _ = h.s.do(context.Background(), func() { <-release }) }() // the loop is busy
		synctest.Wait()
		op, err := ot.FromPatch(0, 0, 0, "x")
		if err != nil {
			t.Fatal(err)
		}
		go h.s.post(func() { // an input, queued: applied, not yet persisted
			_ = h.d.r.Propose(op)
			h.s.markDirty(h.d)
		})
		synctest.Wait()
		var pending bool
		var dirty int
		done := make(chan error, 1)
		go func() {
			done <- h.s.do(context.Background(), func() { pending, dirty = h.d.r.HasReady(), len(h.s.dirty) })
		}()
		synctest.Wait()
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if pending || dirty != 0 {
			t.Fatalf("the API call saw unpersisted input: ready pending %v, %d dirty documents", pending, dirty)
		}
		synctest.Wait() // the send runs on a goroutine of its own
		if got := h.net.took("publish submit"); len(got) != 1 {
			t.Fatalf("the queued edit was sent %d times, want once", len(got))
		}
	})
}
