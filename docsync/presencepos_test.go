package docsync_test

import "testing"

// runeAt returns the code point at pos of s ('$' past the end).
func runeAt(s string, pos int) rune {
	r := []rune(s)
	if pos < 0 || pos >= len(r) {
		return '$'
	}
	return r[pos]
}

// TestPresencePositions: b's caret, mapped to the committed text on b and
// back to a's local text, stays before the same character while all three
// members type concurrently (b's own pending insert included), and moves
// past what b itself inserted at it.
func TestPresencePositions(t *testing.T) {
	w, a, b, c := threeMembers(t)
	if err := w.insert(a, 0, "hello world"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	// b types "X" at 0 (pending); its caret is before "w" at 7 of "Xhello world".
	if err := w.insert(b, 0, "X"); err != nil {
		t.Fatal(err)
	}
	if got := runeAt(b.r.Text(), 7); got != 'w' {
		t.Fatalf("b's text %q", b.r.Text())
	}
	seq, pos := b.r.CommittedPos(7)
	if pos != 6 {
		t.Fatalf("CommittedPos(7) = %d, want 6 (b's pending X left out)", pos)
	}
	// c and a type meanwhile; a's edit stays pending on a.
	if err := w.insert(c, 0, "oh "); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if err := w.insert(a, 6, "big "); err != nil {
		t.Fatal(err)
	}
	got, ok := a.r.LocalPos(seq, pos, b.r.ID())
	if !ok || runeAt(a.r.Text(), got) != 'w' {
		t.Fatalf("a: LocalPos = %d %v in %q, want before w", got, ok, a.r.Text())
	}
	// b types "Y" at its caret: the caret moves past it, and so it does on
	// c once the insert commits.
	bpos := []rune(b.r.Text())
	at := 0
	for i, r := range bpos {
		if r == 'w' {
			at = i
		}
	}
	if err := w.insert(b, at, "Y"); err != nil {
		t.Fatal(err)
	}
	seq, pos = b.r.CommittedPos(at + 1)
	w.settle()
	got, ok = c.r.LocalPos(seq, pos, b.r.ID())
	if !ok || runeAt(c.r.Text(), got) != 'w' || runeAt(c.r.Text(), got-1) != 'Y' {
		t.Fatalf("c: LocalPos = %d %v in %q, want between Y and w", got, ok, c.r.Text())
	}
	if _, ok := c.r.LocalPos(c.r.Applied()+1, 0, b.r.ID()); ok {
		t.Fatal("LocalPos of a seq not applied yet")
	}
	if e, _, ok := a.r.CurrentKey(); !ok || e != a.r.Log().Membership().Epoch() {
		t.Fatal("CurrentKey")
	}
}
