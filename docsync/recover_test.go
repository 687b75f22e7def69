package docsync_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/sequencer"
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

// forkStart is the start of a fork test: three members, "base " committed
// at k (hash hk), then x from a, z from b and y from c submitted, not yet
// ordered; give hands entries to a member (each must be taken).
type forkStart struct {
	w       *world
	a, b, c *clone
	k       uint64
	hk      docsync.Hash
	x, z, y *docsync.Envelope
	give    func(to *clone, es ...*docsync.Entry)
}

func startFork(t *testing.T) *forkStart {
	w, a, b, c := threeMembers(t)
	if err := w.insert(a, 0, "base "); err != nil {
		t.Fatal(err)
	}
	w.settle()
	f := &forkStart{w: w, a: a, b: b, c: c, k: a.r.Log().Seq()}
	f.hk, _ = a.r.Log().HashAt(f.k)
	_ = w.insert(a, 0, "x ")
	_ = w.insert(b, 0, "z ")
	_ = w.insert(c, 0, "y ")
	f.x, f.z, f.y = w.outbox[0], w.outbox[1], w.outbox[2]
	w.outbox = nil
	f.give = func(to *clone, es ...*docsync.Entry) {
		for _, e := range es {
			if err := to.r.HandleEntry(e); err != nil {
				t.Fatalf("seq %d: %v", e.Head.Seq, err)
			}
			w.drain(to)
		}
	}
	return f
}

// converge orders what is left on the new sequencer next and checks that
// the three members agree, with every edit once.
func (f *forkStart) converge(t *testing.T, next *sequencer.Memory) {
	t.Helper()
	for len(f.w.outbox) > 0 {
		f.w.deliver(orderWith(f.w, next))
	}
	a := f.a
	for _, x := range []*clone{f.a, f.b, f.c} {
		if x.r.Text() != a.r.Text() || x.r.Log().HeadHash() != a.r.Log().HeadHash() || x.r.Busy() || x.r.Halted() != nil {
			t.Fatalf("clones differ: %q / %q", x.r.Text(), a.r.Text())
		}
	}
	for _, s := range []string{"base ", "x ", "y ", "z "} {
		if strings.Count(a.r.Text(), s) != 1 {
			t.Fatalf("%q appears %d times in %q", s, strings.Count(a.r.Text(), s), a.r.Text())
		}
	}
}

// TestRecoverFromThreeBranches: the sequencer equivocates twice, so the
// log has three branches after seq k: a's (x at k+1, y at k+2), c's (x at
// k+1, z at k+2) and b's (z at k+1). The admin a learns from the members'
// heads that b agrees with it up to k and c up to k+1, so every member
// shares k; b and c, halted by the fork, follow a's takeover from k by
// rolling back, and all three converge with every edit once.
func TestRecoverFromThreeBranches(t *testing.T) {
	f := startFork(t)
	w, a, b, c, k, hk, give := f.w, f.a, f.b, f.c, f.k, f.hk, f.give
	ax := w.signEntry(k+1, hk, f.x)
	ay := w.signEntry(k+2, ax.Head.ChainHash, f.y)
	cz := w.signEntry(k+2, ax.Head.ChainHash, f.z)
	bz := w.signEntry(k+1, hk, f.z)
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
	f.converge(t, next)
	if strings.Contains(a.r.Text(), "late") {
		t.Fatal("an edit refused while halted was applied")
	}
}

// TestFollowAcross: the sequencer forks after seq k, a and c getting x
// at k+1 and y at k+2, b alone z at k+1. The admin a takes over from
// k+2 without b's report (b was not connected): b's chain is not the
// takeover's at its base, so b records it as crossed, not as a conflict
// to roll back for. b finds where the chains part from a's heads (k),
// refuses a bridge with an entry the sequencer did not sign, leaving its
// replica as it was, and follows across with the genuine one: all three
// converge on the new chain with x, y and b's z, resent, each once.
func TestFollowAcross(t *testing.T) {
	f := startFork(t)
	w, a, b, c, k, hk, give := f.w, f.a, f.b, f.c, f.k, f.hk, f.give
	ax := w.signEntry(k+1, hk, f.x)
	ay := w.signEntry(k+2, ax.Head.ChainHash, f.y)
	bz := w.signEntry(k+1, hk, f.z)
	give(a, ax, ay)
	give(c, ax, ay)
	give(b, bz)
	_ = b.r.HandleHead(ax.Head)
	if b.r.Halted() == nil {
		t.Fatal("b did not halt on the fork")
	}

	base := a.r.Log().Seq() // c's report agrees up to k+2; b's is missing
	newKey := newSequencerKey(w)
	na, err := a.r.TakeoverFrom(nil, a.entries[:base], nil, newKey.Public().(ed25519.PublicKey), "")
	if err != nil {
		t.Fatal(err)
	}
	a.r = na
	w.drain(a)
	next := adopt(w, newKey, a.entries)
	mv := orderWith(w, next)
	if len(mv) != 1 || mv[0].Head.Seq != base+1 {
		t.Fatalf("the takeover was ordered as %d entries", len(mv))
	}
	give(a, mv[0])
	give(c, mv[0])
	if err := b.r.HandleEntry(mv[0]); !errors.Is(err, docsync.ErrMoveConflict) {
		t.Fatalf("b took a takeover from another branch: %v", err)
	}
	w.drain(b)
	if b.r.MoveConflict() != nil || b.r.CrossedTakeover() == nil {
		t.Fatal("b did not record the takeover as one from another branch")
	}
	d, err := b.r.AgreedPrefix(headsOf(a, 1)[:base])
	if err != nil || d != k {
		t.Fatalf("b's chain parts from a's after %d (%v), want %d", d, err, k)
	}
	bridge := a.entries[d:base]
	bad := *bridge[0]
	bad.Head.Sig = append([]byte(nil), bad.Head.Sig...)
	bad.Head.Sig[0] ^= 1
	seq, text := b.r.Log().Seq(), b.r.Text()
	if _, err := b.r.FollowAcross(nil, b.entries[:d], b.entries[d:], append([]*docsync.Entry{&bad}, bridge[1:]...), b.r.CrossedTakeover()); err == nil {
		t.Fatal("a bridge entry the sequencer did not sign was taken")
	}
	if _, err := b.r.FollowAcross(nil, b.entries[:d], b.entries[d:], bridge[:1], b.r.CrossedTakeover()); err == nil {
		t.Fatal("a bridge that stops before the takeover's base was taken")
	}
	if b.r.Log().Seq() != seq || b.r.Text() != text || b.r.Halted() == nil {
		t.Fatal("a refused bridge changed b's replica")
	}
	nb, err := b.r.FollowAcross(nil, b.entries[:d], b.entries[d:], bridge, b.r.CrossedTakeover())
	if err != nil {
		t.Fatal(err)
	}
	b.r, b.entries = nb, b.entries[:d]
	w.drain(b)
	f.converge(t, next)
	// The old sequencer's heads on b's abandoned branch are no fork now.
	if err := b.r.HandleHead(bz.Head); err != nil || b.r.Halted() != nil {
		t.Fatalf("a head of the branch b left: %v", err)
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
