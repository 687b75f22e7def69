package cloneservice

import (
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

func TestAgreedHeads(t *testing.T) {
	var a agreedHeads
	head := func(seq uint64, b byte) docsync.Head {
		return docsync.Head{Seq: seq, ChainHash: docsync.Hash{b}, Sig: []byte{b, 1}}
	}
	if a.agrees(docsync.Head{}) {
		t.Fatal("seq 0 agrees with an empty window")
	}
	for seq := uint64(1); seq <= 100; seq++ {
		a.record(head(seq, byte(seq)))
	}
	forged := head(100, 100)
	forged.Sig = []byte{0xff}
	for _, c := range []struct {
		what string
		h    docsync.Head
		want bool
	}{
		{"the latest", head(100, 100), true},
		{"the oldest kept", head(100-agreedWindow+1, 100-agreedWindow+1), true},
		{"one older, overwritten", head(100-agreedWindow, 100-agreedWindow), false},
		{"another branch", head(99, 7), false},
		{"ahead", head(101, 101), false},
		{"another signature", forged, false},
	} {
		if got := a.agrees(c.h); got != c.want {
			t.Errorf("%s: agrees = %v, want %v", c.what, got, c.want)
		}
	}
}
