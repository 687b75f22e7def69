package ot

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// lcs is the reference: the length of a longest common subsequence.
func lcs(a, b []rune) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(cur[j], prev[j+1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Diff takes a to b and keeps a longest common subsequence, checked
// against the quadratic reference on random pairs of related texts.
func TestDiffKeepsLongestCommonSubsequence(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alpha := []rune("abcé😀 ")
	word := func(n int) string {
		var sb strings.Builder
		for range n {
			sb.WriteRune(alpha[rng.IntN(len(alpha))])
		}
		return sb.String()
	}
	for i := range 2000 {
		a := word(rng.IntN(40))
		b := []rune(a)
		for range rng.IntN(8) { // a few edits of a
			p := rng.IntN(len(b) + 1)
			if rng.IntN(2) == 0 && p < len(b) {
				b = append(b[:p], b[p+1:]...)
			} else {
				b = append(b[:p], append([]rune(word(1+rng.IntN(3))), b[p:]...)...)
			}
		}
		if i%5 == 0 {
			b = []rune(word(rng.IntN(40))) // unrelated
		}
		op := Diff(a, string(b), 1<<10)
		got, err := ApplyString(a, op)
		if err != nil || got != string(b) {
			t.Fatalf("Diff(%q, %q) = %v: %q, %v", a, string(b), op, got, err)
		}
		kept := 0
		for _, c := range op.Comps {
			if c.Kind == Retain {
				kept += c.N
			}
		}
		if want := lcs([]rune(a), b); kept != want || !op.IsNormalized() {
			t.Fatalf("Diff(%q, %q) = %v keeps %d, LCS %d", a, string(b), op, kept, want)
		}
	}
}

// Past maxEdits the middle is replaced whole, and the op is still right.
func TestDiffBoundedReplacesTheMiddle(t *testing.T) {
	a, b := "head:abcdefgh:tail", "head:xbcdyfgz:tail"
	op := Diff(a, b, 2)
	if got, _ := ApplyString(a, op); got != b {
		t.Fatalf("%v gives %q", op, got)
	}
	if want := "retain 5, insert \"xbcdyfgz\", delete 8, retain 5"; len(op.Comps) != 4 {
		t.Fatalf("%v, want %s", op, want)
	}
	if op := Diff(a, b, 6); len(op.Comps) <= 4 {
		t.Fatalf("within the bound: %v", op)
	}
}
