package docsync_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

// headsOf returns the heads of c's entries from seq from on.
func headsOf(c *clone, from uint64) []docsync.Head {
	var out []docsync.Head
	for _, e := range c.entries {
		if e.Head.Seq >= from {
			out = append(out, e.Head)
		}
	}
	return out
}

// TestRecoverFromThreeBranches: the sequencer equivocates twice, so the
// log has three branches after seq k: a's (x at k+1, y at k+2), c's (x at
// k+1, z at k+2) and b's (z at k+1). The admin a learns from the members'
// heads that b agrees with it up to k and c up to k+1, so every member
// shares k; b and c, halted by the fork, follow a's takeover from k by
// rolling back, and all three converge with every edit once.
func TestRecoverFromThreeBranches(t *testing.T) {
	w, a, b, c := threeMembers(t)
	if err := w.insert(a, 0, "base "); err != nil {
		t.Fatal(err)
	}
	w.settle()
	k := a.r.Log().Seq()
	hk, _ := a.r.Log().HashAt(k)
	_ = w.insert(a, 0, "x ")
	_ = w.insert(b, 0, "z ")
	_ = w.insert(c, 0, "y ")
	x, z, y := w.outbox[0], w.outbox[1], w.outbox[2]
	w.outbox = nil
	ax := w.signEntry(k+1, hk, x)
	ay := w.signEntry(k+2, ax.Head.ChainHash, y)
	cz := w.signEntry(k+2, ax.Head.ChainHash, z)
	bz := w.signEntry(k+1, hk, z)
	give := func(to *clone, es ...*docsync.Entry) {
		for _, e := range es {
			if err := to.r.HandleEntry(e); err != nil {
				t.Fatalf("seq %d: %v", e.Head.Seq, err)
			}
			w.drain(to)
		}
	}
	give(a, ax, ay)
	give(c, ax, cz)
	give(b, bz)

	// Reports: each member's heads from seq k-1 on.
	sb, err := a.r.AgreedPrefix(headsOf(b, k-1))
	if err != nil || sb != k {
		t.Fatalf("b's chain agrees up to %d (%v), want %d", sb, err, k)
	}
	sc, err := a.r.AgreedPrefix(headsOf(c, k-1))
	if err != nil || sc != k+1 {
		t.Fatalf("c's chain agrees up to %d (%v), want %d", sc, err, k+1)
	}
	if _, err := a.r.AgreedPrefix(headsOf(b, k+1)); !errors.Is(err, docsync.ErrDiverged) {
		t.Fatalf("a report that differs at its first head: %v, want ErrDiverged", err)
	}
	forged := headsOf(c, k-1)
	forged[1].ChainHash[0] ^= 1
	if _, err := a.r.AgreedPrefix(forged); !errors.Is(err, docsync.ErrSequencerSignature) {
		t.Fatalf("a head the sequencer did not sign: %v", err)
	}
	if _, err := a.r.AgreedPrefix(append(headsOf(c, k+1), headsOf(c, k-1)...)); !errors.Is(err, docsync.ErrMalformed) {
		t.Fatalf("heads out of order: %v", err)
	}

	// b and c learn of the fork from a's heads: both halt.
	for _, h := range []docsync.Head{ax.Head, ay.Head} {
		_ = b.r.HandleHead(h)
		_ = c.r.HandleHead(h)
	}
	if b.r.Halted() == nil || c.r.Halted() == nil {
		t.Fatal("b and c did not halt on the fork")
	}
	if err := w.insert(b, 0, "late "); !errors.Is(err, docsync.ErrHalted) {
		t.Fatalf("an edit on a halted replica: %v", err)
	}

	base := min(sb, sc, a.r.Log().Seq())
	newKey := newSequencerKey(w)
	na, err := a.r.TakeoverFrom(nil, a.entries[:base], a.entries[base:], newKey.Public().(ed25519.PublicKey), "")
	if err != nil {
		t.Fatal(err)
	}
	a.r, a.entries = na, a.entries[:base]
	w.drain(a)
	next := adopt(w, newKey, a.entries)
	mv := orderWith(w, next)
	if len(mv) != 1 || mv[0].Head.Seq != base+1 {
		t.Fatalf("the takeover was ordered as %d entries", len(mv))
	}
	for _, x := range []*clone{a, b, c} {
		_ = x.r.HandleEntry(mv[0])
		w.drain(x)
		if x == a {
			continue
		}
		if x.r.MoveConflict() == nil {
			t.Fatal("a halted member did not record the takeover to follow")
		}
		nr, err := x.r.Rollback(x.entries[:base], x.entries[base:], x.r.MoveConflict())
		if err != nil {
			t.Fatal(err)
		}
		x.r, x.entries = nr, x.entries[:base]
		w.drain(x)
	}
	for len(w.outbox) > 0 {
		w.deliver(orderWith(w, next))
	}
	for _, x := range []*clone{a, b, c} {
		if x.r.Text() != a.r.Text() || x.r.Log().HeadHash() != a.r.Log().HeadHash() || x.r.Busy() || x.r.Halted() != nil {
			t.Fatalf("clones differ: %q / %q", x.r.Text(), a.r.Text())
		}
	}
	for _, s := range []string{"base ", "x ", "y ", "z "} {
		if strings.Count(a.r.Text(), s) != 1 {
			t.Fatalf("%q appears %d times in %q", s, strings.Count(a.r.Text(), s), a.r.Text())
		}
	}
	if strings.Contains(a.r.Text(), "late") {
		t.Fatal("an edit refused while halted was applied")
	}
}

// FuzzAgreedPrefix: a member's head report is a stranger's bytes. Whatever
// heads it holds (genuine ones with bytes flipped, out of order, a decoded
// extra one), AgreedPrefix never panics, never agrees beyond our head or
// the report, and agrees on exactly our head when the report is our own
// chain untouched.
func FuzzAgreedPrefix(f *testing.F) {
	t := &testing.T{}
	w, a, _, _ := threeMembers(t)
	for _, s := range []string{"one ", "two ", "three "} {
		_ = w.insert(a, 0, s)
		w.settle()
	}
	top := a.r.Log().Seq()
	genuine := headsOf(a, 1)
	raw, _ := genuine[2].Marshal()
	f.Add([]byte{}, uint8(0), uint8(len(genuine)), []byte(nil))
	f.Add([]byte{0, 5, 1}, uint8(1), uint8(3), raw)
	f.Add([]byte{3, 40, 0x80}, uint8(2), uint8(2), []byte("not a head"))
	f.Fuzz(func(t *testing.T, flips []byte, lo, n uint8, extra []byte) {
		start := int(lo) % len(genuine)
		end := min(len(genuine), start+int(n))
		hs := append([]docsync.Head(nil), genuine[start:end]...)
		for i := 0; i+2 < len(flips) && len(hs) > 0; i += 3 {
			h := &hs[int(flips[i])%len(hs)]
			switch flips[i+1] % 3 {
			case 0:
				h.ChainHash[int(flips[i+2])%len(h.ChainHash)] ^= 1
			case 1:
				h.Seq ^= uint64(flips[i+2])
			case 2:
				if len(h.Sig) > 0 {
					sig := append([]byte(nil), h.Sig...)
					sig[int(flips[i+2])%len(sig)] ^= 1
					h.Sig = sig
				}
			}
		}
		if x, err := docsync.DecodeHead(extra); err == nil {
			hs = append(hs, x)
		}
		s, err := a.r.AgreedPrefix(hs)
		if err != nil {
			return
		}
		if s > top || (len(hs) > 0 && s > hs[len(hs)-1].Seq) {
			t.Fatalf("agreed on seq %d: our head is %d, the report ends at %d", s, top, hs[len(hs)-1].Seq)
		}
		if len(flips) < 3 && len(extra) == 0 && end == len(genuine) && s != top {
			t.Fatalf("our own chain from seq %d agrees up to %d, want %d", start+1, s, top)
		}
	})
}
