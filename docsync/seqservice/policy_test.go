package seqservice

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/clone2clone/c2c/internal/clock"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
)

// headTopic records when heads are published, on the fake clock.
type headTopic struct {
	clk   *clock.Fake
	start time.Time
	mu    sync.Mutex
	at    []time.Duration
	seqs  []uint64
}

func (t *headTopic) Publish(_ context.Context, b []byte, _ ...pubsub.PubOpt) error {
	h, err := docsync.DecodeHead(b)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.at = append(t.at, t.clk.Now().Sub(t.start))
	t.seqs = append(t.seqs, h.Seq)
	return nil
}

// The head republish policy on a fake ticker (WithTicker) with the loop
// and the publisher running and a fake heads topic: no host, no pubsub.
// A head that moved goes out at the next tick; an unchanged one after 5,
// 10, 20, 40 ticks, then every 60.
func TestPolicyHeadRepublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		id, err := docsync.NewIdentity(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		doc := docsync.DocID{9}
		r, err := docsync.Create(docsync.Config{Doc: doc, Sequencer: key.Public().(ed25519.PublicKey), Identity: id})
		if err != nil {
			t.Fatal(err)
		}
		orderer := sequencer.NewHonest(doc, key)
		order := func() {
			t.Helper()
			rd := r.Ready()
			r.Advance()
			for _, env := range rd.Submit {
				out, err := orderer.Order(env)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range out.Log {
					if err := r.HandleEntry(e); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		order() // the genesis: seq 1

		start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		clk := clock.NewFake(start)
		topic := &headTopic{clk: clk, start: start}
		ctx, cancel := context.WithCancel(context.Background())
		s := &Service{params: DefaultParams(), opts: options{now: clk.Now, ticker: clk.NewTicker},
			log: slog.New(slog.NewTextHandler(io.Discard, nil)), ctx: ctx, cancel: cancel,
			reqs: make(chan func()), envs: make(chan *submitted), outbox: make(chan outgoing, 16),
			heads: make(chan outgoing, 16), docs: map[docsync.DocID]*docState{}}
		s.docs[doc] = &docState{id: doc, seq: orderer, headsOut: topic}
		s.wg.Add(2)
		go s.loop()
		go s.publisher()
		t.Cleanup(func() { cancel(); s.wg.Wait() })
		synctest.Wait()

		run := func(d time.Duration) {
			for ; d > 0; d -= s.params.HeadInterval {
				clk.Advance(s.params.HeadInterval)
				synctest.Wait()
			}
		}
		run(200 * time.Second)
		sec := func(xs ...int) []time.Duration {
			var out []time.Duration
			for _, x := range xs {
				out = append(out, time.Duration(x)*time.Second)
			}
			return out
		}
		want := sec(1, 6, 16, 36, 76, 136, 196)
		topic.mu.Lock()
		got := slices.Clone(topic.at)
		topic.mu.Unlock()
		if !slices.Equal(got, want) {
			t.Fatalf("heads published at %v, want %v", got, want)
		}

		// An edit moves the head: it goes out at the next tick, and the
		// gaps start again from 5 ticks.
		if err := s.do(ctx, func() {
			op, _ := ot.FromPatch(0, 0, 0, "x")
			if err := r.Propose(op); err != nil {
				t.Fatal(err)
			}
			order()
		}); err != nil {
			t.Fatal(err)
		}
		run(10 * time.Second)
		topic.mu.Lock()
		defer topic.mu.Unlock()
		if got, want := topic.at[len(want):], sec(201, 206); !slices.Equal(got, want) {
			t.Fatalf("after the edit, heads at %v, want %v", got, want)
		}
		if s := topic.seqs[len(topic.seqs)-1]; s != 2 {
			t.Fatalf("last head seq %d, want 2", s)
		}
	})
}
