package cloneservice

import (
	"testing"

	"github.com/clone2clone/c2c/docsync/ot"
)

// replaceOp turns one text into the other, touching only the middle.
func TestReplaceOp(t *testing.T) {
	for _, c := range [][2]string{{"", "abc"}, {"abc", ""}, {"héllo wörld", "héllo brave wörld"}, {"aaa", "aa"}, {"x€y", "x𝄞y"}} {
		op, ok := replaceOp(c[0], c[1])
		if !ok {
			t.Fatalf("%q -> %q: no op", c[0], c[1])
		}
		d := ot.NewDoc(c[0])
		if err := d.Apply(op); err != nil || d.String() != c[1] {
			t.Fatalf("%q -> %q: got %q, %v", c[0], c[1], d.String(), err)
		}
	}
	if _, ok := replaceOp("same", "same"); ok {
		t.Fatal("an op for equal texts")
	}
}
