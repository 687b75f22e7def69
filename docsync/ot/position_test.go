package ot

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

func TestTransformIndex(t *testing.T) {
	ins, _ := FromPatch(5, 2, 0, "xy") // ab|cde -> abxycde
	del, _ := FromPatch(5, 1, 2, "")   // a[bc]de -> ade
	rep, _ := FromPatch(5, 1, 2, "Z")  // a[bc]de -> aZde
	for _, c := range []struct {
		name       string
		o          Op
		pos, want  int
		after      bool
		back, bpos int // UntransformIndex(o, bpos) == back
	}{
		{"before insert", ins, 1, 1, false, 1, 1},
		{"at insert, other's", ins, 2, 2, false, 2, 2},
		{"at insert, own", ins, 2, 4, true, 2, 4},
		{"after insert", ins, 3, 5, false, 3, 5},
		{"end", ins, 5, 7, false, 5, 7},
		{"inside insert back", ins, 0, 0, false, 2, 3},
		{"before delete", del, 1, 1, false, 1, 1},
		{"inside delete", del, 2, 1, false, 1, 1},
		{"after delete", del, 3, 1, false, 4, 2},
		{"inside replace", rep, 2, 2, false, 1, 1},
		{"clamped", del, 99, 3, false, 5, 99},
		{"negative", del, -3, 0, false, 0, -1},
	} {
		if got := TransformIndex(c.o, c.pos, c.after); got != c.want {
			t.Errorf("%s: TransformIndex(%d) = %d, want %d", c.name, c.pos, got, c.want)
		}
		if got := UntransformIndex(c.o, c.bpos); got != c.back {
			t.Errorf("%s: UntransformIndex(%d) = %d, want %d", c.name, c.bpos, got, c.back)
		}
	}
}

// TestTransformIndexKeepsCharacter: a caret before a character that an op
// keeps is before that same character afterwards, and maps back to where
// it was. The text's characters are unique and inserts use other ones, so
// the character identifies the position.
func TestTransformIndexKeepsCharacter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := rng.IntN(12)
		base := make([]rune, n)
		for i := range base {
			base[i] = rune('a' + i)
		}
		text := string(base)
		o := randomOp(rng, n)
		out, err := ApplyString(text, o)
		if err != nil {
			t.Fatal(err)
		}
		outR := []rune(out)
		for pos := 0; pos < n; pos++ {
			after := rng.IntN(2) == 0
			p := TransformIndex(o, pos, after)
			kept := false
			for _, r := range outR {
				kept = kept || r == base[pos]
			}
			if p < 0 || p > len(outR) {
				t.Fatalf("%v: pos %d -> %d out of range", o, pos, p)
			}
			if !kept {
				continue
			}
			// Text another member inserted right at the caret comes after
			// it (after unset); then the character.
			q := p
			for !after && q < len(outR) && outR[q] >= '0' && outR[q] <= '9' {
				q++
			}
			if q >= len(outR) || outR[q] != base[pos] {
				t.Fatalf("%v on %q: caret before %q at %d went to %d in %q", o, text, base[pos], pos, p, out)
			}
			// Back to the same place (or to the other side of text deleted
			// there), unless inserted text precedes it (then it goes to
			// where the insert was).
			if p > 0 && outR[p-1] >= '0' && outR[p-1] <= '9' {
				continue
			}
			if back := UntransformIndex(o, p); TransformIndex(o, back, false) != p {
				t.Fatalf("%v: %d -> %d -> %d", o, pos, p, back)
			}
		}
		if got := TransformIndex(o, n, false); got > utf8.RuneCountInString(out) {
			t.Fatalf("end maps past the end")
		}
	}
}

// randomOp builds a random op on a text of n code points, inserting only
// digits (never one of the text's letters).
func randomOp(rng *rand.Rand, n int) Op {
	var o Op
	for i := 0; i < n; {
		switch rng.IntN(3) {
		case 0:
			k := 1 + rng.IntN(n-i)
			o.Retain(k)
			i += k
		case 1:
			o.Insert(string(rune('0' + rng.IntN(10))))
		case 2:
			k := 1 + rng.IntN(n-i)
			o.Delete(k)
			i += k
		}
	}
	if rng.IntN(2) == 0 {
		o.Insert("9")
	}
	return o
}
