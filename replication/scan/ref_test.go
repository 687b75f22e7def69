package scan_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/clone2clone/c2c/replication/scan"
)

// refMatch is the reference: it tries every allowed start and every gap
// length by plain backtracking over the whole pattern.
func refMatch(s scan.BodySig, data []byte) bool {
	p := s.Pattern
	var seg func(j, i, pos int) bool // part j, segment i at pos
	var part func(j, from, minGap int, unbounded bool) bool
	segAt := func(sg *scan.Segment, pos int) bool {
		if pos < 0 || pos+len(sg.Val) > len(data) {
			return false
		}
		for k := range sg.Val {
			if data[pos+k]&sg.Mask[k] != sg.Val[k] {
				return false
			}
		}
		for _, a := range sg.Alts {
			ok := false
			for _, c := range a.Choices {
				ok = ok || bytes.Equal(data[pos+a.Pos:pos+a.Pos+len(c)], c)
			}
			if !ok {
				return false
			}
		}
		return true
	}
	seg = func(j, i, pos int) bool {
		pt := &p.Parts[j]
		if !segAt(&pt.Segs[i], pos) {
			return false
		}
		end := pos + len(pt.Segs[i].Val)
		if i+1 == len(pt.Segs) {
			return j+1 == len(p.Parts) || part(j+1, end, p.MinGap[j+1], true)
		}
		g := pt.Gaps[i]
		for q := end + g.Min; q <= end+g.Max; q++ {
			if seg(j, i+1, q) {
				return true
			}
		}
		return false
	}
	part = func(j, from, minGap int, unbounded bool) bool {
		if !unbounded {
			return seg(j, 0, from)
		}
		for q := from + minGap; q < len(data); q++ {
			if seg(j, 0, q) {
				return true
			}
		}
		return false
	}
	switch s.Off {
	case scan.OffAbs:
		return seg(0, 0, int(s.N))
	case scan.OffEOF:
		return seg(0, 0, len(data)-int(s.N))
	}
	return part(0, 0, 0, true)
}

// randomSig draws a small signature over the alphabet "ab", so that
// matches are frequent, using every construct the parser knows.
func randomSig(rng *rand.Rand) string {
	lit := func(n int) string {
		var b strings.Builder
		for range n {
			fmt.Fprintf(&b, "%02x", "ab"[rng.IntN(2)])
		}
		return b.String()
	}
	// 2- and 3-byte literal starts take the short-anchor path.
	sig := lit(2 + rng.IntN(3))
	for range rng.IntN(4) {
		switch rng.IntN(6) {
		case 0:
			sig += "??" + lit(1)
		case 1:
			sig += fmt.Sprintf("{%d-%d}", rng.IntN(3), 3+rng.IntN(3)) + lit(1)
		case 2:
			sig += "*" + lit(2+rng.IntN(3))
		case 3:
			sig += fmt.Sprintf("{%d-}", rng.IntN(4)) + lit(2+rng.IntN(3))
		case 4:
			sig += "(6161|6262)"
		default:
			sig += "6?" + lit(1)
		}
	}
	off := "*"
	switch rng.IntN(5) {
	case 0:
		off = fmt.Sprint(rng.IntN(20))
	case 1:
		off = fmt.Sprintf("EOF-%d", 12+rng.IntN(20))
	}
	return "R:0:" + off + ":" + sig
}

// TestMatcherAgainstReference checks the streaming engine, reading small
// chunks, against refMatch on random signatures and data.
func TestMatcherAgainstReference(t *testing.T) {
	undo := scan.SetChunkSize(64)
	defer undo()
	rng := rand.New(rand.NewPCG(7, 8))
	hits := 0
	for iter := range 6000 {
		line := randomSig(rng)
		var set scan.SigSet
		if err := scan.ParseFile("r.ndb", strings.NewReader(line), &set); err != nil {
			continue // an EOF-n shorter than the signature
		}
		db, err := scan.NewDB(1, &set)
		if err != nil {
			t.Fatal(err)
		}
		e := scan.NewEngine(db, nil)
		data := make([]byte, rng.IntN(300))
		for i := range data {
			data[i] = "abc"[rng.IntN(3)]
		}
		want := refMatch(set.Body[0], data)
		v, err := e.Scan(iotest.HalfReader(bytes.NewReader(data)), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if v.Infected != want {
			t.Fatalf("iteration %d: %s on %q: engine %v, reference %v", iter, line, data, v.Infected, want)
		}
		if want {
			hits++
		}
	}
	if hits < 300 {
		t.Fatalf("only %d matches in 6000: the test is too weak", hits)
	}
}
