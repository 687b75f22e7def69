package scanwire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/scan"
	"github.com/libp2p/go-libp2p/core/host"
)

func startProvider(t *testing.T, opts ...ProviderOption) (host.Host, *Provider, *Store) {
	t.Helper()
	h := newHost(t)
	ds := memDS()
	opts = append([]ProviderOption{WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	p, err := NewProvider(context.Background(), h, ds, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return h, p, NewStore(ds)
}

type clone struct {
	h     host.Host
	c     *Client
	blobs *boxostore.Store
}

func newClone(t *testing.T, prov host.Host) *clone {
	t.Helper()
	h := newHost(t)
	connect(t, h, prov)
	ds := memDS()
	blobs := boxostore.New(ds)
	c, err := NewClient(context.Background(), h, prov.ID(), ds, blobs)
	if err != nil {
		t.Fatal(err)
	}
	return &clone{h, c, blobs}
}

func (c *clone) add(t *testing.T, data []byte) boxostore.Ref {
	t.Helper()
	ref, err := c.blobs.Add(data)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Two clones of one provider: the second mirror's copy of a blob is not
// scanned again (the provider's cache answers, no bytes sent), EICAR is
// found, and a new database version makes the blob be scanned once more.
func TestOneEngineSharedCache(t *testing.T) {
	ctx := ctxT(t)
	prov, p, store := startProvider(t)
	a, b := newClone(t, prov), newClone(t, prov)
	eicarFile := append(bytes.Repeat([]byte("padding "), 5000), scan.EICAR()...)
	clean := bytes.Repeat([]byte("clean "), 9000)

	refA := a.add(t, eicarFile)
	v, err := a.c.Check(ctx, refA)
	if err != nil || !v.Verdict.Infected || v.Verdict.Name != scan.EICARName || v.Version != 0 {
		t.Fatalf("EICAR: %+v, %v", v, err)
	}
	if _, err := a.c.Check(ctx, a.add(t, clean)); err != nil {
		t.Fatal(err)
	}
	if n := p.CacheLen(); n != 2 {
		t.Fatalf("cache holds %d verdicts, want 2", n)
	}
	// b holds the same EICAR file: answered from the cache; b's store
	// lacking the bytes proves none were asked for.
	v, err = b.c.Check(ctx, refA)
	if err != nil || !v.Verdict.Infected {
		t.Fatalf("second mirror: %+v, %v", v, err)
	}

	// A new database: a hash signature on the clean file.
	sum := sha256.Sum256(clean)
	m, err := store.Add(ctx, prov.Peerstore().PrivKey(prov.ID()), []SigFile{{"x.hsb", fmt.Appendf(nil, "%x:%d:Test.Clean.Now.Bad\n", sum, len(clean))}})
	if err != nil || m.Version != 1 {
		t.Fatalf("add: %+v, %v", m, err)
	}
	if err := p.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := a.c.Sync(ctx); err != nil || got.Version != 1 || got.HashSigs != 1 {
		t.Fatalf("sync: %+v, %v", got, err)
	}
	v, err = a.c.Check(ctx, a.add(t, clean))
	if err != nil || !v.Verdict.Infected || v.Verdict.Name != "Test.Clean.Now.Bad" || v.Version != 1 {
		t.Fatalf("rescan under version 1: %+v, %v", v, err)
	}
	if n := p.CacheLen(); n != 3 {
		t.Fatalf("cache holds %d verdicts, want 3", n)
	}
	// b has not synced: its kept verdict of version 0 stands until it
	// learns of version 1, here from a signed verdict (from the cache: b
	// does not hold the clean file's bytes).
	if v, err := b.c.Check(ctx, boxostore.Ref{CID: refA.CID, SHA256: sum, Size: uint64(len(clean))}); err != nil || !v.Verdict.Infected || b.c.Version() != 1 {
		t.Fatalf("b: %+v, version %d, %v", v, b.c.Version(), err)
	}
}

// A clone that sends other bytes than the blob it named gets a refusal,
// and nothing is cached under that SHA-256.
func TestLyingCloneRefused(t *testing.T) {
	ctx := ctxT(t)
	prov, p, _ := startProvider(t)
	c := newClone(t, prov)
	data := []byte("some bytes the clone holds")
	q := query{sha256.Sum256([]byte("other content")), uint64(len(data))}
	s, err := c.h.NewStream(ctx, prov.ID(), ScanProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	br := bufio.NewReader(s)
	if _, err := bounded.WriteFrame(s, q.marshal()); err != nil {
		t.Fatal(err)
	}
	b, _, err := bounded.ReadFrame(br, maxFrame)
	if err != nil || !bytes.Equal(b, []byte{tagSend}) {
		t.Fatalf("want a send frame: %q, %v", b, err)
	}
	if _, err := s.Write(data); err != nil {
		t.Fatal(err)
	}
	b, _, err = bounded.ReadFrame(br, maxFrame)
	if err != nil {
		t.Fatal(err)
	}
	if err := refusalErr(b); b[0] != tagRefuse || !errors.Is(err, ErrRefused) {
		t.Fatalf("lying clone: %q", b)
	}
	if n := p.CacheLen(); n != 0 {
		t.Fatalf("cache holds %d verdicts after a lie", n)
	}
}

// Budgets: a peer over its concurrent scans or bytes is told to retry; a
// blob over the cap is refused.
func TestBudgets(t *testing.T) {
	ctx := ctxT(t)
	now := time.Unix(1e9, 0)
	params := DefaultParams()
	params.MaxBlobBytes, params.PeerBytesBurst, params.PeerBytesPerSec = 1<<20, 1<<20, 1<<10
	prov, _, _ := startProvider(t, WithParams(params), WithClock(func() time.Time { return now }))
	c := newClone(t, prov)
	big := c.add(t, bytes.Repeat([]byte{7}, 1<<20+1))
	if _, err := c.c.Check(ctx, big); !errors.Is(err, ErrRefused) {
		t.Fatalf("over the cap: %v", err)
	}
	first := c.add(t, bytes.Repeat([]byte{1}, 600<<10))
	if _, err := c.c.Check(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := c.add(t, bytes.Repeat([]byte{2}, 600<<10))
	if _, err := c.c.Check(ctx, second); !errors.Is(err, ErrBusy) {
		t.Fatalf("over the byte budget: %v", err)
	}
	now = now.Add(time.Hour) // the bucket refills
	if _, err := c.c.Check(ctx, second); err != nil {
		t.Fatalf("after refill: %v", err)
	}
}

// The cap over all peers: with one scan allowed in flight, a second
// peer's scan is told to retry while the first is held.
func TestGlobalConcurrencyCap(t *testing.T) {
	params := DefaultParams()
	params.MaxConcurrent = 1
	b := newBudgets(params, time.Now)
	done, err := b.scan("peer-a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.scan("peer-b", 10); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second scan over the cap: %v", err)
	}
	done()
	if _, err := b.scan("peer-b", 10); err != nil {
		t.Fatalf("after the first ended: %v", err)
	}
}

// A clone that sends fewer bytes than it announced and hangs up gets a
// refusal, nothing cached; a malformed query gets a refusal too.
func TestShortBlobAndBadQueryRefused(t *testing.T) {
	ctx := ctxT(t)
	prov, p, _ := startProvider(t)
	c := newClone(t, prov)
	for _, send := range [][]byte{[]byte("ten bytes!"), nil} {
		s, err := c.h.NewStream(ctx, prov.ID(), ScanProtocol)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(s)
		if send == nil {
			_, _ = bounded.WriteFrame(s, []byte{tagQuery, 1, 2, 3})
		} else {
			_, _ = bounded.WriteFrame(s, query{sha256.Sum256(send), 100}.marshal())
			if b, _, err := bounded.ReadFrame(br, maxFrame); err != nil || b[0] != tagSend {
				t.Fatalf("want send: %q, %v", b, err)
			}
			_, _ = s.Write(send)
			_ = s.CloseWrite()
		}
		b, _, err := bounded.ReadFrame(br, maxFrame)
		if err != nil || b[0] != tagRefuse || !errors.Is(refusalErr(b), ErrRefused) {
			t.Fatalf("want a refusal: %q, %v", b, err)
		}
		s.Close()
	}
	if n := p.CacheLen(); n != 0 {
		t.Fatalf("cache holds %d verdicts", n)
	}
}
