package ot

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// marks is the dumb reference model of an op on a base of n code points:
// the text inserted in each of the n+1 gaps (gap g is just before base code
// point g) and, per base code point, whether it is deleted.
type marks struct {
	ins []string
	del []bool
}

func toMarks(t testing.TB, o Op) marks {
	t.Helper()
	m := marks{ins: make([]string, o.BaseLen+1), del: make([]bool, o.BaseLen)}
	g := 0
	for _, c := range o.Comps {
		switch c.Kind {
		case Retain:
			g += c.N
		case Insert:
			m.ins[g] += c.Text
		case Delete:
			for range c.N {
				m.del[g] = true
				g++
			}
		}
	}
	if g != o.BaseLen {
		t.Fatalf("op %v walks %d code points, BaseLen %d", o, g, o.BaseLen)
	}
	return m
}

func (m marks) apply(base string) string {
	r := []rune(base)
	var b strings.Builder
	for g := range m.ins {
		b.WriteString(m.ins[g])
		if g < len(r) && !m.del[g] {
			b.WriteRune(r[g])
		}
	}
	return b.String()
}

// refTransform is Transform spelled out gap by gap and code point by code
// point: in each gap a's insert comes first, then b's; a code point survives
// only if neither op deletes it.
func refTransform(a, b marks) (aPrime, bPrime Op) {
	for g := range a.ins {
		aPrime.Insert(a.ins[g])
		aPrime.Retain(utf8.RuneCountInString(b.ins[g]))
		bPrime.Retain(utf8.RuneCountInString(a.ins[g]))
		bPrime.Insert(b.ins[g])
		if g == len(a.del) {
			break
		}
		switch {
		case a.del[g] && b.del[g]:
		case a.del[g]:
			aPrime.Delete(1)
		case b.del[g]:
			bPrime.Delete(1)
		default:
			aPrime.Retain(1)
			bPrime.Retain(1)
		}
	}
	return aPrime, bPrime
}

// alphabet mixes 1-, 2-, 3- and 4-byte code points.
var alphabet = []rune("abcxyz é€😀")

func randText(rng *rand.Rand, n int) string {
	r := make([]rune, n)
	for i := range r {
		r[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(r)
}

// randOp returns a random op on a document of n code points, built with the
// normalizing builders, with runs of retains, inserts and deletes.
func randOp(rng *rand.Rand, n int) Op {
	var o Op
	for left := n; ; {
		if rng.IntN(3) == 0 {
			o.Insert(randText(rng, 1+rng.IntN(4)))
		}
		if left == 0 {
			return o
		}
		k := 1 + rng.IntN(left)
		if rng.IntN(2) == 0 {
			k = 1 + rng.IntN(min(left, 3))
		}
		if rng.IntN(3) == 0 {
			o.Delete(k)
		} else {
			o.Retain(k)
		}
		left -= k
	}
}

func mustApply(t testing.TB, s string, o Op) string {
	t.Helper()
	out, err := ApplyString(s, o)
	if err != nil {
		t.Fatalf("apply %v to %q: %v", o, s, err)
	}
	return out
}

func checkCanonical(t testing.TB, what string, o Op) {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatalf("%s %v invalid: %v", what, o, err)
	}
	if !o.IsNormalized() {
		t.Fatalf("%s %v not normalized", what, o)
	}
}

// TestTransformTP1AndReference checks TP1 on random op pairs and compares
// every Transform result with the reference model.
func TestTransformTP1AndReference(t *testing.T) {
	pairs := 100_000
	if !testing.Short() {
		pairs = 200_000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range pairs {
		docLen := rng.IntN(24)
		if i%100 == 0 { // some long documents with many components
			docLen = rng.IntN(2000)
		}
		s := randText(rng, docLen)
		n := utf8.RuneCountInString(s)
		a, b := randOp(rng, n), randOp(rng, n)
		a1, b1, err := Transform(a, b)
		if err != nil {
			t.Fatalf("pair %d: transform %v, %v: %v", i, a, b, err)
		}
		checkCanonical(t, "a'", a1)
		checkCanonical(t, "b'", b1)
		left := mustApply(t, mustApply(t, s, a), b1)
		right := mustApply(t, mustApply(t, s, b), a1)
		if left != right {
			t.Fatalf("pair %d: TP1 fails on %q with a=%v b=%v: %q != %q", i, s, a, b, left, right)
		}
		ma, mb := toMarks(t, a), toMarks(t, b)
		ra, rb := refTransform(ma, mb)
		if !a1.Equal(ra) || !b1.Equal(rb) {
			t.Fatalf("pair %d: a=%v b=%v: got a'=%v b'=%v, reference a'=%v b'=%v", i, a, b, a1, b1, ra, rb)
		}
		if got := ma.apply(s); got != mustApply(t, s, a) {
			t.Fatalf("pair %d: reference apply %q != ApplyString %q", i, got, mustApply(t, s, a))
		}
	}
}

// TestComposeAgreesWithApply: applying Compose(a, b) equals applying a then b.
func TestComposeAgreesWithApply(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 50_000 {
		s := randText(rng, rng.IntN(24))
		a := randOp(rng, utf8.RuneCountInString(s))
		mid := mustApply(t, s, a)
		b := randOp(rng, a.TargetLen)
		ab, err := Compose(a, b)
		if err != nil {
			t.Fatalf("case %d: compose %v, %v: %v", i, a, b, err)
		}
		checkCanonical(t, "a∘b", ab)
		if want, got := mustApply(t, mid, b), mustApply(t, s, ab); got != want {
			t.Fatalf("case %d: %q a=%v b=%v ab=%v: got %q want %q", i, s, a, b, ab, got, want)
		}
	}
}

// TestDocAgreesWithApplyString runs random op sequences through a Doc and
// through ApplyString, and checks Invert undoes each op.
func TestDocAgreesWithApplyString(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for run := range 300 {
		s := randText(rng, rng.IntN(40))
		d := NewDoc(s)
		for step := range 60 {
			o := randOp(rng, utf8.RuneCountInString(s))
			if err := d.Apply(o); err != nil {
				t.Fatalf("run %d step %d: %v", run, step, err)
			}
			next := mustApply(t, s, o)
			inv, err := Invert(o, s)
			if err != nil {
				t.Fatal(err)
			}
			checkCanonical(t, "inverse", inv)
			if back := mustApply(t, next, inv); back != s {
				t.Fatalf("invert %v on %q: got %q", o, s, back)
			}
			s = next
			if d.String() != s || d.Len() != utf8.RuneCountInString(s) {
				t.Fatalf("run %d step %d: doc %q (len %d), want %q", run, step, d.String(), d.Len(), s)
			}
		}
	}
}
