package netsim

import (
	"testing"

	"github.com/clone2clone/c2c/docsync/ot"
)

func mustPatch(t testing.TB, pos, del int, ins string) ot.Op {
	t.Helper()
	return mustPatchLen(t, -1, pos, del, ins)
}

// mustPatchLen builds an op; docLen < 0 means pos+del (an edit at the end).
func mustPatchLen(t testing.TB, docLen, pos, del int, ins string) ot.Op {
	t.Helper()
	if docLen < 0 {
		docLen = pos + del
	}
	op, err := ot.FromPatch(docLen, pos, del, ins)
	if err != nil {
		t.Fatal(err)
	}
	return op
}
