package seqservice

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// startOffline runs the service on a host with no listen address (no peers:
// entries are published to nobody), over ds.
func startOffline(t *testing.T, k crypto.PrivKey, ds datastore.Batching, opts ...Option) *Service {
	t.Helper()
	h, err := libp2p.New(libp2p.Identity(k), libp2p.NoListenAddrs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(ctx, h, netproto.GossipOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(h, ps, ds, k, append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(); cancel(); _ = h.Close() })
	return s
}

// order hands envelopes to the loop as the submit validator would and
// waits until the service has ordered want entries in all.
func order(t *testing.T, s *Service, envs []*docsync.Envelope, want uint64) {
	t.Helper()
	for _, env := range envs {
		s.envs <- &submitted{doc: env.Doc, env: env}
	}
	for s.Stats().Ordered+s.Stats().Refused < want {
		if err := s.do(context.Background(), func() {}); err != nil { // let the loop run
			t.Fatal(err)
		}
	}
}

// After a restart the sequencer reloads its log and continues after it:
// the same head, the next envelope gets the next seq, a replay is refused.
func TestRestartContinuesTheLog(t *testing.T) {
	k, _, _ := crypto.GenerateEd25519Key(nil)
	key, _ := netproto.SigningKey(k)
	envs := genLog(t, key, 20, 2)
	ds := dssync.MutexWrap(datastore.NewMapDatastore())

	s := startOffline(t, k, ds)
	if _, err := s.register(s.h.ID(), mustMarshal(t, envs[0])); !errors.Is(err, ErrNotGenesis) {
		t.Fatalf("a genesis sent by someone else than its author: %v", err)
	}
	var reply []byte
	var rerr error
	_ = s.do(context.Background(), func() { reply, rerr = s.registerLoop(envs[0]) })
	if rerr != nil || len(reply) == 0 {
		t.Fatalf("register: %v", rerr)
	}
	order(t, s, envs[1:11], 11)
	doc := envs[0].Doc
	head, err := s.Head(doc, docsync.MemberID{})
	if err != nil || head.Seq != 11 {
		t.Fatalf("head %+v %v", head, err)
	}
	_ = s.Close()

	s2 := startOffline(t, k, ds)
	h2, err := s2.Head(doc, docsync.MemberID{})
	if err != nil || h2.Seq != 11 || h2.ChainHash != head.ChainHash {
		t.Fatalf("restarted head %+v %v, want seq 11 %v", h2, err, head.ChainHash)
	}
	order(t, s2, envs[5:6], 1) // a replay of an ordered envelope
	if s2.Stats().Refused != 1 {
		t.Fatalf("replay not refused: %+v", s2.Stats())
	}
	order(t, s2, envs[11:], uint64(len(envs[11:]))+1)
	h3, _ := s2.Head(doc, docsync.MemberID{})
	if h3.Seq != uint64(len(envs)) {
		t.Fatalf("after restart the log reached seq %d, want %d", h3.Seq, len(envs))
	}
	got := s2.readRange(doc, 1, 1000, 1000)
	if len(got) != len(envs) {
		t.Fatalf("history holds %d entries, want %d", len(got), len(envs))
	}
	for i, b := range got {
		e, err := docsync.DecodeEntry(b)
		if err != nil || e.Head.Seq != uint64(i+1) || e.Head.Verify(key.Public().(ed25519.PublicKey)) != nil {
			t.Fatalf("entry %d: %v", i+1, err)
		}
	}
}

func mustMarshal(t *testing.T, env *docsync.Envelope) []byte {
	t.Helper()
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
