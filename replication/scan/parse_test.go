package scan_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/replication/scan"
)

func TestParseHash(t *testing.T) {
	md5 := strings.Repeat("ab", 16)
	sha1 := strings.Repeat("cd", 20)
	sha256 := strings.Repeat("EF", 32)
	var set scan.SigSet
	in := "# comment\n\n" + md5 + ":68:A\r\n" + sha1 + ":*:B\n" + sha256 + ":0:C:73\n"
	if err := scan.ParseFile("x.hdb", strings.NewReader(in), &set); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind scan.HashKind
		size int64
		name string
		b0   byte
	}{{scan.MD5, 68, "A", 0xab}, {scan.SHA1, scan.AnySize, "B", 0xcd}, {scan.SHA256, 0, "C", 0xef}}
	if len(set.Hash) != len(want) {
		t.Fatalf("got %d signatures", len(set.Hash))
	}
	for i, w := range want {
		h := set.Hash[i]
		if h.Kind != w.kind || h.Size != w.size || h.Name != w.name || h.Digest[0] != w.b0 {
			t.Errorf("line %d: got %+v", i, h)
		}
	}
}

func TestParseBody(t *testing.T) {
	cases := []struct {
		line          string
		off           scan.OffsetKind
		n             int64
		parts, minLen int
	}{
		{"A:0:*:41424344", scan.OffAny, 0, 1, 4},
		{"A:0:10:41424344??45", scan.OffAbs, 10, 1, 6},
		{"A:0:EOF-20:4142{2-4}43", scan.OffEOF, 20, 1, 5},
		{"A:0:*:41424344*45464748", scan.OffAny, 0, 2, 8},
		{"A:0:*:41424344{3-}45464748", scan.OffAny, 0, 2, 11},
		{"A:0:*:41424344{-3}45", scan.OffAny, 0, 1, 5},
		{"A:0:*:41424344{2}(aa|BB)4?", scan.OffAny, 0, 1, 8},
		{"A:0:*:(0102|0304)41424344:18:255", scan.OffAny, 0, 1, 6},
	}
	for _, c := range cases {
		var set scan.SigSet
		if err := scan.ParseFile("x.ndb", strings.NewReader(c.line), &set); err != nil {
			t.Errorf("%s: %v", c.line, err)
			continue
		}
		b := set.Body[0]
		if b.Off != c.off || b.N != c.n || len(b.Pattern.Parts) != c.parts || b.Pattern.MinLen() != c.minLen {
			t.Errorf("%s: got off %d n %d parts %d minlen %d", c.line, b.Off, b.N, len(b.Pattern.Parts), b.Pattern.MinLen())
		}
	}
}

func TestParseErrors(t *testing.T) {
	good := "A:0:*:41424344\n"
	cases := []struct {
		file, line string
		want       error
	}{
		{"x.hdb", "abcd:1:A", scan.ErrHash},
		{"x.hdb", strings.Repeat("zz", 16) + ":1:A", scan.ErrHash},
		{"x.hdb", strings.Repeat("ab", 16) + ":-1:A", scan.ErrSize},
		{"x.hdb", strings.Repeat("ab", 16) + ":1:", scan.ErrName},
		{"x.hdb", strings.Repeat("ab", 16) + ":1", scan.ErrFields},
		{"x.hsb", strings.Repeat("ab", 16) + ":99999999999999999999:A", scan.ErrSize},
		{"x.ndb", "A:0:*", scan.ErrFields},
		{"x.ndb", "A:x:*:41424344", scan.ErrTarget},
		{"x.ndb", "A:0:EP+1:41424344", scan.ErrOffset},
		{"x.ndb", "A:0:EOF-99999999:41424344", scan.ErrOffset},
		{"x.ndb", "A:0:EOF-2:41424344", scan.ErrOffset},
		{"x.ndb", "A:0:*:4142434", scan.ErrHex},
		{"x.ndb", "A:0:*:4142434g", scan.ErrHex},
		{"x.ndb", "A:0:*:*41424344", scan.ErrHex},
		{"x.ndb", "A:0:*:41424344*", scan.ErrHex},
		{"x.ndb", "A:0:*:41424344{5-2}45", scan.ErrHex},
		{"x.ndb", "A:0:*:41424344{2}{3}45", scan.ErrHex},
		{"x.ndb", "A:0:*:41424344{99999999}45", scan.ErrHex},
		{"x.ndb", "A:0:*:41424344{65000}45{65000}46", scan.ErrTooLong},
		{"x.ndb", "A:0:*:41424344(aa)", scan.ErrAlt},
		{"x.ndb", "A:0:*:41424344(aa|b)", scan.ErrAlt},
		{"x.ndb", "A:0:*:41424344(aa|zz)", scan.ErrAlt},
		{"x.ndb", "A\x01:0:*:41424344", scan.ErrName},
		{"x.ndb", strings.Repeat("a", scan.MaxLine+1), scan.ErrTooLong},
		{"x.txt", good, scan.ErrFormat},
	}
	for _, c := range cases {
		var set scan.SigSet
		g := good
		if c.file != "x.ndb" {
			g = strings.Repeat("ab", 16) + ":1:G\n"
		}
		err := scan.ParseFile(c.file, strings.NewReader(g+g+c.line+"\n"), &set)
		if !errors.Is(err, c.want) {
			t.Errorf("%s %q: got %v, want %v", c.file, c.line, err, c.want)
			continue
		}
		var pe *scan.ParseError
		if c.want != scan.ErrFormat && (!errors.As(err, &pe) || pe.Line != 3) {
			t.Errorf("%q: error %v does not say line 3", c.line, err)
		}
	}
}

func TestParseSkipsOtherTargets(t *testing.T) {
	var set scan.SigSet
	in := "A:1:EP+0:41424344\nB:0:*:41424344\nC:3:*:41424344\n"
	if err := scan.ParseFile("x.ndb", strings.NewReader(in), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Body) != 1 || set.Skipped != 2 {
		t.Fatalf("got %d signatures, %d skipped; want 1, 2", len(set.Body), set.Skipped)
	}
}

// Valid ClamAV forms the scanner does not implement are skipped and
// counted, with where and why, and the file's other signatures load.
func TestParseSkipsUnsupported(t *testing.T) {
	lines := []string{
		"A:0:10,5:41424344",
		"B:0:*:41424344(aa|bbcc)",
		"C:0:*:41424344(a?|bb)",
		"D:0:*:41424344!(aa|bb)",
		"E:0:*:41424344[1-2]45",
		"F:0:*:41424344(B)",
		"G:0:*:41??42??43",
		"H:0:*:41424344*41",
		"I:0:*:(41|42)43",
	}
	in := "Good:0:*:41424344\n" + strings.Join(lines, "\n") + "\nGood2:0:*:4142{2}4344\n"
	var set scan.SigSet
	if err := scan.ParseFile("x.ndb", strings.NewReader(in), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Body) != 2 || set.Unsupported != len(lines) || len(set.FirstUnsupported) != 5 {
		t.Fatalf("%d loaded, %d unsupported (%q)", len(set.Body), set.Unsupported, set.FirstUnsupported)
	}
	if !strings.HasPrefix(set.FirstUnsupported[0], "x.ndb: line 2: ") || !strings.Contains(set.FirstUnsupported[0], "floating offset") {
		t.Fatalf("first: %q", set.FirstUnsupported[0])
	}
}
