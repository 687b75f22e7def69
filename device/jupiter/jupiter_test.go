package jupiter

import (
	"errors"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync/ot"
)

func mustPatch(t *testing.T, n, pos, del int, ins string) ot.Op {
	t.Helper()
	op, err := ot.FromPatch(n, pos, del, ins)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// connected returns a client synchronized with s through a first bundle.
func connected(t *testing.T, s *Server, device string) *Client {
	t.Helper()
	c := NewClient()
	b, err := s.Bundle(device, c.Connect())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resume(b); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBundleCancelsInsertThenDelete(t *testing.T) {
	s := NewServer(9, "base text", DefaultParams())
	c := connected(t, s, "phone")
	c.Disconnect()
	// 1,000 remote edits: type a word at the end, then delete it.
	for range 500 {
		n := s.Len()
		if err := s.Remote(mustPatch(t, n, n, 0, "x")); err != nil {
			t.Fatal(err)
		}
	}
	for range 500 {
		if err := s.Remote(mustPatch(t, s.Len(), s.Len()-1, 1, "")); err != nil {
			t.Fatal(err)
		}
	}
	b, err := s.Bundle("phone", c.Connect())
	if err != nil {
		t.Fatal(err)
	}
	if b.Snapshot != nil || !b.Op.IsNoop() {
		t.Fatalf("bundle = %+v, want a no-op composition", b)
	}
	if _, err := c.Resume(b); err != nil {
		t.Fatal(err)
	}
	if c.Text() != s.Text() || c.Version() != 1000 {
		t.Fatalf("client %q at %d", c.Text(), c.Version())
	}
}

func TestOfflineEditsMergedAndDeliveredOnce(t *testing.T) {
	s := NewServer(3, "abc", DefaultParams())
	c := connected(t, s, "phone")
	e, err := c.Local(mustPatch(t, 3, 0, 0, "X")) // in flight, then the link drops
	if err != nil || e == nil {
		t.Fatalf("edit %v %v", e, err)
	}
	sent := *e
	c.Disconnect()
	if _, err := c.Local(mustPatch(t, 4, 4, 0, "Y")); err != nil { // offline: buffered
		t.Fatal(err)
	}
	if err := s.Remote(mustPatch(t, 3, 1, 1, "")); err != nil { // "ac"
		t.Fatal(err)
	}
	// The edit sent before the drop arrives late, after the reconnect.
	b, err := s.Bundle("phone", c.Connect())
	if err != nil {
		t.Fatal(err)
	}
	next, err := c.Resume(b)
	if err != nil || next == nil {
		t.Fatalf("resume: %v %v", next, err)
	}
	if _, dup, err := s.Receive("phone", sent); err != nil || !dup {
		t.Fatalf("late copy: dup %v err %v", dup, err)
	}
	if _, dup, err := s.Receive("phone", *next); err != nil || dup {
		t.Fatalf("buffer: dup %v err %v", dup, err)
	}
	if _, err := c.Ack(next.Counter); err != nil {
		t.Fatal(err)
	}
	if s.Text() != "XacY" || c.Text() != "XacY" {
		t.Fatalf("server %q client %q", s.Text(), c.Text())
	}
}

func TestUnknownEpochWithEditInFlightRefused(t *testing.T) {
	s := NewServer(1, "abc", DefaultParams())
	c := connected(t, s, "phone")
	if _, err := c.Local(mustPatch(t, 3, 0, 0, "X")); err != nil {
		t.Fatal(err)
	}
	restarted := NewServer(2, "abc", DefaultParams())
	if _, err := restarted.Bundle("phone", c.Connect()); !errors.Is(err, ErrEpoch) {
		t.Fatalf("err = %v, want ErrEpoch", err)
	}
}

func TestStateRoundTrip(t *testing.T) {
	s := NewServer(5, "héllo", DefaultParams())
	c := connected(t, s, "phone")
	if _, err := c.Local(mustPatch(t, 5, 5, 0, " wörld")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Local(mustPatch(t, 11, 0, 1, "H")); err != nil {
		t.Fatal(err)
	}
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d, err := UnmarshalClient(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Text() != c.Text() || d.Version() != c.Version() || d.Counter() != c.Counter() ||
		!d.Buffered() || d.Inflight().Counter != c.Inflight().Counter {
		t.Fatalf("decoded %+v", d.Hello())
	}
	// The restored client resumes: its edits land exactly once.
	bd, err := s.Bundle("phone", d.Connect())
	if err != nil {
		t.Fatal(err)
	}
	next, err := d.Resume(bd)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Receive("phone", *next); err != nil {
		t.Fatal(err)
	}
	if s.Text() != "Héllo wörld" {
		t.Fatalf("server %q", s.Text())
	}
}

func TestStateOfflineBufferOnly(t *testing.T) {
	s := NewServer(5, "abc", DefaultParams())
	c := connected(t, s, "phone")
	c.Disconnect()
	if _, err := c.Local(mustPatch(t, 3, 0, 0, "<off>")); err != nil {
		t.Fatal(err)
	}
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d, err := UnmarshalClient(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Text() != "<off>abc" || !d.Buffered() || d.Inflight() != nil {
		t.Fatalf("decoded %q", d.Text())
	}
	// A state whose text does not follow from base and buffer is refused.
	c.text = ot.NewDoc("<of>abc")
	bad, _ := c.MarshalBinary()
	if _, err := UnmarshalClient(bad); !errors.Is(err, ErrState) {
		t.Fatalf("err = %v", err)
	}
}

func TestDiff(t *testing.T) {
	for _, c := range [][2]string{{"", ""}, {"abc", "abc"}, {"abc", ""}, {"", "xyz"}, {"abcdef", "abXYef"}, {"aaa", "aaaa"}, {"hé", "hè"}} {
		got, err := ot.ApplyString(c[0], Diff(c[0], c[1]))
		if err != nil || got != c[1] {
			t.Fatalf("Diff(%q,%q) gives %q, %v", c[0], c[1], got, err)
		}
	}
}

func TestComposeAllMatchesFold(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	text := "start"
	var ops []ot.Op
	for range 37 {
		op := randomOp(rng, utf8.RuneCountInString(text))
		ops = append(ops, op)
		var err error
		if text, err = ot.ApplyString(text, op); err != nil {
			t.Fatal(err)
		}
	}
	c, err := composeAll(ops)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ot.ApplyString("start", c); err != nil || got != text {
		t.Fatalf("composed gives %q (%v), want %q", got, err, text)
	}
}

func BenchmarkBundle10k(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	s := NewServer(1, "", DefaultParams())
	for range 10000 {
		if err := s.Remote(randomOp(rng, s.Len())); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := s.Bundle("d", Hello{Epoch: 1, Version: 0, Buffered: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// After a clone restart with persisted counters, a device with an edit in
// flight learns whether it was applied: applied edits are not resent,
// unapplied ones are, each once.
func TestRestartWithRestoredCounters(t *testing.T) {
	for _, applied := range []bool{true, false} {
		s := NewServer(1, "abc", DefaultParams())
		c := connected(t, s, "phone")
		e, err := c.Local(mustPatch(t, 3, 3, 0, "X"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Local(mustPatch(t, 4, 0, 0, "Y")); err != nil {
			t.Fatal(err)
		}
		if applied {
			if _, _, err := s.Receive("phone", *e); err != nil {
				t.Fatal(err)
			}
		}
		c.Disconnect()
		restarted := NewServer(2, s.Text(), DefaultParams())
		restarted.Restore(map[string]uint64{"phone": s.LastCounter("phone")})
		if err := restarted.Remote(mustPatch(t, restarted.Len(), 0, 0, "r")); err != nil {
			t.Fatal(err)
		}
		b, err := restarted.Bundle("phone", c.Connect())
		if err != nil {
			t.Fatal(err)
		}
		if b.Snapshot == nil || b.Unapplied == applied {
			t.Fatalf("applied=%v: bundle %+v", applied, b)
		}
		next, err := c.Resume(b)
		if err != nil || next == nil {
			t.Fatalf("resume: %v %v", next, err)
		}
		if _, dup, err := restarted.Receive("phone", *next); err != nil || dup {
			t.Fatalf("resend: dup %v err %v", dup, err)
		}
		if _, err := c.Ack(next.Counter); err != nil {
			t.Fatal(err)
		}
		if restarted.Text() != "rYabcX" || c.Text() != "rYabcX" {
			t.Fatalf("applied=%v: server %q client %q", applied, restarted.Text(), c.Text())
		}
	}
}
