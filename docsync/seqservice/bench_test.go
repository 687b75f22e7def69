package seqservice

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/sequencer"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// genLog builds a valid log of one document: the genesis and n edit
// envelopes by one author, each composing batch random keystrokes, ordered
// by an in-memory reference sequencer with seqKey (the service re-orders
// the same envelopes to the same chain).
func genLog(b testing.TB, seqKey ed25519.PrivateKey, n, batch int) []*docsync.Envelope {
	b.Helper()
	id, err := docsync.NewIdentity(nil)
	if err != nil {
		b.Fatal(err)
	}
	var doc docsync.DocID
	doc[0] = byte(batch)
	mem := sequencer.NewMemory(doc, seqKey)
	r, err := docsync.Create(docsync.Config{Doc: doc, Sequencer: seqKey.Public().(ed25519.PublicKey), Identity: id})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, uint64(batch)))
	var envs []*docsync.Envelope
	flush := func() {
		for r.HasReady() {
			rd := r.Ready()
			r.Advance()
			for _, env := range rd.Submit {
				envs = append(envs, env)
				for _, dl := range mem.Submit(env) {
					if err := r.HandleEntry(dl.Entry); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	flush()
	for len(envs) < n+1 {
		for range batch {
			l := r.LocalLen()
			op, err := ot.FromPatch(l, rng.IntN(l+1), 0, string(rune('a'+rng.IntN(26))))
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Propose(op); err != nil {
				b.Fatal(err)
			}
		}
		flush()
	}
	return envs
}

// BenchmarkSequencerThroughput measures one document's ordering rate on a
// sequencer with pebble on disk: envelopes are injected as the submit
// topic's validator would hand them over; each batch of entries is ordered,
// written, fsynced and published (gossipsub signing) before the next.
// entries/s counts envelopes ordered; edits/s counts the keystrokes they carry.
//
//	go test -run '^$' -bench BenchmarkSequencerThroughput -benchtime 3x ./docsync/seqservice
func BenchmarkSequencerThroughput(b *testing.B) {
	for _, batch := range []int{1, 16} {
		b.Run(fmt.Sprintf("keystrokes_per_envelope=%d", batch), func(b *testing.B) {
			k, _, _ := crypto.GenerateEd25519Key(nil)
			seqKey, _ := netproto.SigningKey(k)
			const n = 5000
			envs := genLog(b, seqKey, n, batch)
			var total time.Duration
			var batches uint64
			for b.Loop() {
				d, st := runThroughput(b, k, envs)
				total += d
				batches += st.Batches
			}
			per := total.Seconds() / float64(b.N)
			b.ReportMetric(float64(n)/per, "entries/s")
			b.ReportMetric(float64(n*batch)/per, "edits/s")
			b.ReportMetric(float64(n*b.N)/float64(batches), "entries/fsync")
		})
	}
}

func runThroughput(b testing.TB, k crypto.PrivKey, envs []*docsync.Envelope) (time.Duration, Stats) {
	h, err := libp2p.New(libp2p.Identity(k), libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"))
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps, err := pubsub.NewGossipSub(ctx, h, netproto.GossipOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	ds, err := pebbleds.NewDatastore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer ds.Close()
	s, err := New(h, ps, ds, k, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var reply []byte
	if err := s.do(ctx, func() { reply, err = s.registerLoop(envs[0]) }); err != nil || len(reply) == 0 {
		b.Fatalf("register: %v", err)
	}
	start := time.Now()
	go func() {
		for _, env := range envs[1:] {
			s.envs <- &submitted{doc: env.Doc, env: env}
		}
	}()
	want := uint64(len(envs))
	for s.Stats().Ordered < want {
		if s.Stats().Refused > 0 {
			b.Fatalf("refused %d envelopes", s.Stats().Refused)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start), s.Stats()
}
