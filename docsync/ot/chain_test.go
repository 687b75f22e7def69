package ot

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestComposeChain(t *testing.T) {
	p := func(n, pos, del int, ins string) Op {
		t.Helper()
		op, err := FromPatch(n, pos, del, ins)
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	ops := []Op{p(5, 5, 0, " world"), p(11, 0, 1, "J"), p(11, 11, 0, "!")}
	op, n, err := ComposeChain(5, ops...)
	if err != nil || n != 3 {
		t.Fatalf("n %d, err %v", n, err)
	}
	if got, err := ApplyString("hello", op); err != nil || got != "Jello world!" {
		t.Fatalf("composed gives %q, %v", got, err)
	}
	// A break in the chain: the prefix before it, and why.
	op, n, err = ComposeChain(5, ops[0], p(3, 0, 0, "x"), ops[1])
	if n != 1 || !errors.Is(err, ErrBaseLength) {
		t.Fatalf("n %d, err %v", n, err)
	}
	if got, _ := ApplyString("hello", op); got != "hello world" {
		t.Fatalf("prefix gives %q", got)
	}
	if _, n, err := ComposeChain(7); n != 0 || err != nil {
		t.Fatalf("empty: %d, %v", n, err)
	}
}

// The balanced composition is the left fold's op, exactly, on random
// chains of edits (the simple reference: compose one op at a time).
func TestComposeChainMatchesLeftFold(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 200 {
		l := rng.IntN(20)
		base := l
		var ops []Op
		for range 1 + rng.IntN(70) {
			pos := rng.IntN(l + 1)
			del := rng.IntN(min(3, l-pos) + 1)
			ins := []string{"", "a", "bc", "\u00e9\U0001F600"}[rng.IntN(4)]
			op, err := FromPatch(l, pos, del, ins)
			if err != nil {
				t.Fatal(err)
			}
			ops = append(ops, op)
			l = op.TargetLen
		}
		got, n, err := ComposeChain(base, ops...)
		want, wn, werr := composeLeft(ops)
		if err != nil || werr != nil || n != len(ops) || wn != n || !reflect.DeepEqual(got, want) {
			t.Fatalf("trial %d: balanced %v (%d, %v), left fold %v (%d, %v)", trial, got, n, err, want, wn, werr)
		}
	}
}
