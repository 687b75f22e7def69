package ot

import (
	"errors"
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
