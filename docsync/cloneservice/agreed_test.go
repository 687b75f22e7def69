package cloneservice

import (
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

func TestAgreedHeads(t *testing.T) {
	var a agreedHeads
	h := func(b byte) docsync.Hash { return docsync.Hash{b} }
	if a.agrees(0, docsync.Hash{}) {
		t.Fatal("seq 0 agrees with an empty window")
	}
	for seq := uint64(1); seq <= 100; seq++ {
		a.record(seq, h(byte(seq)))
	}
	for _, c := range []struct {
		seq  uint64
		hash docsync.Hash
		want bool
	}{
		{100, h(100), true},
		{100 - agreedWindow + 1, h(100 - agreedWindow + 1), true},
		{100 - agreedWindow, h(100 - agreedWindow), false}, // overwritten by seq 100
		{99, h(7), false},    // another branch
		{101, h(101), false}, // ahead: not committed yet
	} {
		if got := a.agrees(c.seq, c.hash); got != c.want {
			t.Errorf("agrees(%d, %x) = %v, want %v", c.seq, c.hash[0], got, c.want)
		}
	}
}
