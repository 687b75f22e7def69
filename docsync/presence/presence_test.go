package presence

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync"
)

func member(t testing.TB) (docsync.MemberID, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var m docsync.MemberID
	copy(m[:], pub)
	return m, priv
}

func sample(m docsync.MemberID) *Update {
	return &Update{Doc: docsync.DocID{1, 2, 3}, Member: m, Epoch: 2, Stamp: 1_700_000_000_000,
		Device: "phone", Name: "Alice", Seq: 42, Anchor: 3, Head: 9}
}

func TestSealOpen(t *testing.T) {
	m, priv := member(t)
	var k docsync.EpochKey
	k[0] = 7
	u := sample(m)
	b, err := Seal(u, k, priv, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Open(k)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *u {
		t.Fatalf("got %+v want %+v", got, u)
	}
	if strings.Contains(string(b), "phone") || strings.Contains(string(b), "Alice") {
		t.Fatal("the device or name travels in the clear")
	}
	// Another epoch's key does not open it.
	var other docsync.EpochKey
	if _, err := s.Open(other); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: %v", err)
	}
	// Any flipped byte breaks the signature or the framing.
	for i := 1; i < len(b); i++ {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		if _, err := Parse(c); err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
	// Someone else's key cannot sign for m.
	_, priv2 := member(t)
	b2, err := Seal(u, k, priv2, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b2); !errors.Is(err, ErrSignature) {
		t.Fatalf("forged: %v", err)
	}
	if _, err := Parse(make([]byte, MaxMessage+1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized: %v", err)
	}
}

func TestTable(t *testing.T) {
	p := DefaultParams()
	p.MaxEntries = 2
	tb := NewTable(p)
	a, _ := member(t)
	b, _ := member(t)
	c, _ := member(t)
	now := time.UnixMilli(1_700_000_000_000)
	put := func(m docsync.MemberID, stamp time.Time, dev string, leave bool) (bool, error) {
		return tb.Put(&Update{Member: m, Stamp: uint64(stamp.UnixMilli()), Device: dev, Leave: leave}, now)
	}
	if ch, err := put(a, now, "phone", false); !ch || err != nil {
		t.Fatal(ch, err)
	}
	if _, err := put(a, now, "phone", false); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := put(b, now.Add(-p.TTL-time.Second), "x", false); !errors.Is(err, ErrStale) {
		t.Fatalf("old: %v", err)
	}
	if _, err := put(b, now.Add(p.MaxSkew+time.Second), "x", false); !errors.Is(err, ErrStale) {
		t.Fatalf("ahead: %v", err)
	}
	if _, err := put(b, now, "x", false); err != nil {
		t.Fatal(err)
	}
	if _, err := put(c, now, "y", false); !errors.Is(err, ErrFull) {
		t.Fatalf("full: %v", err)
	}
	if ch, err := put(b, now.Add(time.Millisecond), "x", true); !ch || err != nil || tb.Len() != 1 {
		t.Fatal("leave", ch, err, tb.Len())
	}
	if tb.Expire(now.Add(p.TTL - time.Millisecond)) {
		t.Fatal("expired early")
	}
	if !tb.Expire(now.Add(p.TTL)) || tb.Len() != 0 {
		t.Fatal("not expired")
	}
	if _, err := put(c, now, "y", false); err != nil {
		t.Fatal(err)
	}
	if !tb.Retain(func(m docsync.MemberID) bool { return m != c }) || tb.Len() != 0 {
		t.Fatal("retain")
	}
	if n := DisplayName(Entry{Member: a}); !strings.HasPrefix(n, "…") || len(n) < 6 {
		t.Fatalf("short name %q", n)
	}
	if Color(a) != Color(a) || len(Color(a)) != 7 || Color(a)[0] != '#' {
		t.Fatalf("colour %q", Color(a))
	}
}

// FuzzParse: no panic; whatever parses and opens seals again.
func FuzzParse(f *testing.F) {
	m, priv := member(f)
	var k docsync.EpochKey
	for _, u := range []*Update{sample(m), {Member: m, Leave: true}} {
		b, err := Seal(u, k, priv, rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{Version})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		u, err := s.Open(k)
		if err != nil {
			return
		}
		if _, err := Seal(u, k, priv, rand.Reader); err != nil && u.Member == m {
			t.Fatalf("opened update does not seal: %v", err)
		}
	})
}
