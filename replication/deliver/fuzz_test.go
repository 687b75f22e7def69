package deliver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

type nopMirror struct{ n int }

func (m *nopMirror) Relay(context.Context, string, []byte) error { m.n++; return nil }
func (m *nopMirror) View(_ context.Context, f func(*replication.AppSet)) error {
	f(nil)
	return nil
}

func fuzzCert(f testing.TB) (*dht.OwnerCert, []byte) {
	user, _, _ := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	dev, _, _ := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{2}, 64)))
	devID, _ := peer.IDFromPrivateKey(dev)
	_, hpke, _ := dht.GenerateHPKEKey()
	c, err := dht.SignOwnerCert(user, dht.OwnerCert{Device: "phone", DeviceKey: devID, Clone: devID, CloneHPKE: hpke,
		Seq: 1, EOL: time.Unix(4e9, 0)})
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := c.Marshal()
	return c, raw
}

// FuzzReceive: whatever a stranger sends, the recipient refuses or takes
// it without panicking, and relays only what passed every check.
func FuzzReceive(f *testing.F) {
	cert, raw := fuzzCert(f)
	msg := (&inbox.Message{ID: [32]byte{1}, From: []byte(cert.User), To: []byte(cert.User), Text: "x"}).Marshal()
	frame := func(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }
	f.Add(append(frame(raw), frame(msg)...))
	f.Add(frame(raw))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	ref, _ := boxostore.NewMem().Add([]byte("linked"))
	linked := &inbox.Message{ID: [32]byte{2}, From: []byte(cert.User), To: []byte(cert.User), Linked: []inbox.Attached{{Name: "l", Ref: ref}}}
	f.Add(append(frame(raw), frame(linked.Marshal())...))
	noNet := func(context.Context, host.Host, peer.ID, *dht.OwnerCert, boxostore.Ref, *boxostore.Store, func(uint64, uint64)) (blobxfer.Stats, error) {
		return blobxfer.Stats{}, blobxfer.ErrUnavailable
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		m := &nopMirror{}
		s := &Service{cert: cert, ds: dssync.MutexWrap(datastore.NewMapDatastore()), clock: func() time.Time { return time.Unix(1e9, 0) },
			mirror: m, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			peerRate:  guard.NewLimiter[peer.ID](guard.Rate{PerSecond: 1, Burst: 1e9}, 16),
			userBytes: guard.NewLimiter[peer.ID](guard.Rate{PerSecond: 1, Burst: 1e12}, 16),
			blobBytes: guard.NewLimiter[peer.ID](guard.Rate{PerSecond: 1, Burst: 1e12}, 16),
			allBlobs:  guard.NewLimiter[struct{}](guard.Rate{PerSecond: 1, Burst: 1e12}, 1),
			blobs:     boxostore.NewMem(), params: DefaultParams(), pull: noNet}
		_, err := s.receive(context.Background(), cert.Clone, bufio.NewReader(bytes.NewReader(p)))
		if err != nil && m.n != 0 {
			t.Fatal("relayed a refused message")
		}
	})
}

func FuzzReadAnswer(f *testing.F) {
	f.Add([]byte{0, 0})
	f.Add([]byte{3, 2, 'n', 'o'})
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = readAnswer(bufio.NewReader(bytes.NewReader(p)))
	})
}

// TestSenderQuotas: a sending clone past its stream rate, or a sending
// user past its bytes, is refused before anything is relayed.
func TestSenderQuotas(t *testing.T) {
	cert, raw := fuzzCert(t)
	frame := func(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }
	now := time.Unix(1e9, 0)
	m := &nopMirror{}
	s := &Service{cert: cert, ds: dssync.MutexWrap(datastore.NewMapDatastore()), clock: func() time.Time { return now },
		mirror: m, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		peerRate:  guard.NewLimiter[peer.ID](guard.Rate{PerSecond: 1, Burst: 2}, 16),
		userBytes: guard.NewLimiter[peer.ID](guard.Rate{PerSecond: 1, Burst: 1e9}, 16)}
	send := func(id byte) error {
		msg := (&inbox.Message{ID: [32]byte{id}, From: []byte(cert.User), To: []byte(cert.User), Text: "x"}).Marshal()
		_, err := s.receive(context.Background(), cert.Clone, bufio.NewReader(bytes.NewReader(append(frame(raw), frame(msg)...))))
		return err
	}
	if err := send(1); err != nil {
		t.Fatal(err)
	}
	if err := send(2); err != nil {
		t.Fatal(err)
	}
	if err := send(3); !errors.Is(err, ErrRateLimited) || m.n != 2 {
		t.Fatalf("third stream in the same instant: %v, %d relayed", err, m.n)
	}
	now = now.Add(time.Second)
	s.userBytes = guard.NewLimiter[peer.ID](guard.Rate{PerSecond: 1, Burst: 10}, 16)
	if err := send(4); !errors.Is(err, ErrRateLimited) || m.n != 2 {
		t.Fatalf("a message over the user's bytes: %v, %d relayed", err, m.n)
	}
}

// TestAllSendersBlobBudget: user keys are free, so fresh users each within
// their own blob budget are stopped by the budget of every sender together,
// before any pull.
func TestAllSendersBlobBudget(t *testing.T) {
	cert, _ := fuzzCert(t)
	now := time.Unix(1e9, 0)
	pulls := 0
	counting := func(context.Context, host.Host, peer.ID, *dht.OwnerCert, boxostore.Ref, *boxostore.Store, func(uint64, uint64)) (blobxfer.Stats, error) {
		pulls++
		return blobxfer.Stats{}, nil
	}
	s := &Service{cert: cert, clock: func() time.Time { return now }, params: DefaultParams(), pull: counting,
		blobs:     boxostore.NewMem(),
		blobBytes: guard.NewLimiter[peer.ID](guard.Rate{PerSecond: 1, Burst: 10 << 20}, 64),
		allBlobs:  guard.NewLimiter[struct{}](guard.Rate{PerSecond: 1, Burst: 25 << 20}, 1)}
	ref, _ := boxostore.NewMem().Add([]byte("linked"))
	ref.Size = 10 << 20 // what the sender announces; the pull is charged before it runs
	m := &inbox.Message{Linked: []inbox.Attached{{Name: "f", Ref: ref}}}
	for i := range 3 {
		user, _, _ := crypto.GenerateEd25519Key(nil)
		uid, _ := peer.IDFromPrivateKey(user)
		err := s.pullLinked(context.Background(), cert.Clone, &dht.OwnerCert{User: uid}, m)
		switch {
		case i < 2 && err != nil:
			t.Fatalf("fresh user %d: %v", i, err)
		case i == 2 && !errors.Is(err, ErrRateLimited):
			t.Fatalf("a third fresh user past 25 MB of every sender's: %v", err)
		}
	}
	if pulls != 2 {
		t.Fatalf("%d pulls, want 2", pulls)
	}
}

// TestRetryBesideSlowPull: a sender's retry arrives while the first
// attempt still pulls the linked file. It is refused for later (no second
// pull beside the first), the first relays the message once, and a retry
// after it is a duplicate.
func TestRetryBesideSlowPull(t *testing.T) {
	cert, raw := fuzzCert(t)
	started, release := make(chan struct{}), make(chan struct{})
	pulls := 0
	slow := func(context.Context, host.Host, peer.ID, *dht.OwnerCert, boxostore.Ref, *boxostore.Store, func(uint64, uint64)) (blobxfer.Stats, error) {
		pulls++
		close(started)
		<-release
		return blobxfer.Stats{}, nil
	}
	m := &nopMirror{}
	unlimited := guard.Rate{PerSecond: 1, Burst: 1e12}
	s := &Service{cert: cert, ds: dssync.MutexWrap(datastore.NewMapDatastore()), clock: func() time.Time { return time.Unix(1e9, 0) },
		mirror: m, log: slog.New(slog.NewTextHandler(io.Discard, nil)), params: DefaultParams(), pull: slow,
		blobs:     boxostore.NewMem(),
		peerRate:  guard.NewLimiter[peer.ID](unlimited, 16),
		userBytes: guard.NewLimiter[peer.ID](unlimited, 16),
		blobBytes: guard.NewLimiter[peer.ID](unlimited, 16),
		allBlobs:  guard.NewLimiter[struct{}](unlimited, 1)}
	ref, _ := boxostore.NewMem().Add([]byte("linked"))
	msg := (&inbox.Message{ID: [32]byte{7}, From: []byte(cert.User), To: []byte(cert.User),
		Linked: []inbox.Attached{{Name: "f", Ref: ref}}}).Marshal()
	frame := func(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }
	stream := func() *bufio.Reader { return bufio.NewReader(bytes.NewReader(append(frame(raw), frame(msg)...))) }

	first := make(chan error)
	go func() {
		_, err := s.receive(context.Background(), cert.Clone, stream())
		first <- err
	}()
	<-started
	if _, err := s.receive(context.Background(), cert.Clone, stream()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a retry beside the first attempt: %v, want ErrUnavailable", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	dup, err := s.receive(context.Background(), cert.Clone, stream())
	if err != nil || !dup {
		t.Fatalf("a retry after the first: dup %v, %v", dup, err)
	}
	if pulls != 1 || m.n != 1 {
		t.Fatalf("%d pulls, %d relayed; want 1 and 1", pulls, m.n)
	}
}
