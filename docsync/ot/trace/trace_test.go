package trace

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// The automerge-paper trace (Kleppmann & Beresford, recorded by Martin
// Kleppmann, editing-traces collection by Joseph Gentle) is CC BY 4.0.
func TestLoadAutomergePaper(t *testing.T) {
	path, err := Find()
	if errors.Is(err, ErrNotFound) {
		t.Skipf("trace not available: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Txns != 259778 || len(tr.Patches) != 259778 {
		t.Fatalf("got %d txns, %d patches; want 259778 each", tr.Txns, len(tr.Patches))
	}
	if tr.Start != "" {
		t.Fatalf("start content has %d bytes, want empty", len(tr.Start))
	}
	if n := utf8.RuneCountInString(tr.End); n != 104852 {
		t.Fatalf("end content has %d code points, want 104852", n)
	}
}

func TestFindFileMissing(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	if _, err := FindFile("no-such-trace.json.gz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestPatchUnmarshalRejectsBadShapes(t *testing.T) {
	for _, in := range []string{`[1,2]`, `[1,2,"a",4]`, `[-1,0,""]`, `[0,-2,""]`, `["a",0,""]`, `{}`, `[0,0,5]`} {
		var p Patch
		if err := p.UnmarshalJSON([]byte(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", in, err)
		}
	}
	var p Patch
	if err := p.UnmarshalJSON([]byte(`[3,1,"x"]`)); err != nil || p != (Patch{3, 1, "x"}) {
		t.Fatalf("got %+v, %v", p, err)
	}
}
