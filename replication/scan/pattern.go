package scan

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits on a body signature. They bound the memory the streaming matcher
// keeps between reads.
const (
	// MaxPartSpan is the most bytes one part (a run without `*` or `{n-}`)
	// may cover, gaps at their maximum included.
	MaxPartSpan = 64 << 10
	// MaxEOFOffset is the largest n in an `EOF-n` offset.
	MaxEOFOffset = 64 << 10
	// MaxLine is the longest line a signature file may hold.
	MaxLine   = 64 << 10
	anchorLen = 4
	// shortAnchorLen is the fallback anchor of a part whose first segment
	// holds no 4-byte literal run: 2 bytes, as ClamAV itself needs.
	shortAnchorLen = 2
)

// A Pattern is a parsed body signature: parts separated by unbounded gaps.
// Parts[i] starts at least MinGap[i] bytes after Parts[i-1] ends (MinGap[0]
// is 0 and unused).
type Pattern struct {
	Parts  []Part
	MinGap []int
}

// A Part is fixed segments separated by bounded gaps.
type Part struct {
	Segs []Segment
	Gaps []Gap // Gaps[i] lies between Segs[i] and Segs[i+1]
	// Anchor is the offset in Segs[0] of AnchorLen consecutive literal
	// bytes (4, else 2), or -1.
	Anchor, AnchorLen int
}

// A Gap is between Min and Max bytes, both included.
type Gap struct{ Min, Max int }

// A Segment is a fixed-length run: byte i matches b when b&Mask[i] ==
// Val[i]; positions covered by an alternative have mask 0 and are checked
// against Alts.
type Segment struct {
	Val, Mask []byte
	Alts      []Alt
}

// An Alt is a set of equal-length byte strings at Pos in its segment.
type Alt struct {
	Pos     int
	Choices [][]byte
}

// Span is the most bytes the part covers.
func (p *Part) Span() int {
	n := 0
	for _, s := range p.Segs {
		n += len(s.Val)
	}
	for _, g := range p.Gaps {
		n += g.Max
	}
	return n
}

// MinLen is the fewest bytes the pattern covers.
func (p *Pattern) MinLen() int {
	n := 0
	for i, pt := range p.Parts {
		n += p.MinGap[i]
		for _, s := range pt.Segs {
			n += len(s.Val)
		}
		for _, g := range pt.Gaps {
			n += g.Min
		}
	}
	return n
}

// ParseHex parses a body signature's hex. needAnchor asks that every part
// hold an anchor, 4 literal bytes in a row in its first segment or else 2
// (the streaming matcher needs it; EOF-n signatures do not).
func ParseHex(s string, needAnchor bool) (*Pattern, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrHex)
	}
	p := &Pattern{}
	var part Part
	var seg Segment
	// pending is the gap that closed the last segment, if any.
	var pendGap *Gap
	pendUnbounded, pendMin := false, 0
	curMin := 0 // the least gap before the current part
	closeSeg := func() {
		if pendGap != nil {
			part.Gaps = append(part.Gaps, *pendGap)
			pendGap = nil
		}
		part.Segs = append(part.Segs, seg)
		seg = Segment{}
	}
	closePart := func() {
		p.Parts = append(p.Parts, part)
		p.MinGap = append(p.MinGap, curMin)
		part = Part{}
	}
	addByte := func(v, m byte) {
		if pendUnbounded {
			closePart()
			curMin, pendUnbounded = pendMin, false
		} else if pendGap != nil {
			closeSeg()
		}
		seg.Val = append(seg.Val, v)
		seg.Mask = append(seg.Mask, m)
	}
	gapAllowed := func() error {
		if len(seg.Val) == 0 || pendGap != nil || pendUnbounded {
			return fmt.Errorf("%w: a gap must lie between bytes", ErrHex)
		}
		return nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '!' || c == '[' || strings.HasPrefix(s[i:], "(B)") || strings.HasPrefix(s[i:], "(L)"):
			return nil, fmt.Errorf("%w: %q at %d", ErrUnsupported, s[i:min(len(s), i+8)], i)
		case c == '*':
			if err := gapAllowed(); err != nil {
				return nil, err
			}
			closeSeg()
			pendUnbounded, pendMin = true, 0
			i++
		case c == '{':
			if err := gapAllowed(); err != nil {
				return nil, err
			}
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return nil, fmt.Errorf("%w: unclosed {", ErrHex)
			}
			lo, hi, err := parseRange(s[i+1 : i+j])
			if err != nil {
				return nil, err
			}
			if hi < 0 {
				closeSeg()
				pendUnbounded, pendMin = true, lo
			} else {
				pendGap = &Gap{lo, hi}
			}
			i += j + 1
		case c == '(':
			j := strings.IndexByte(s[i:], ')')
			if j < 0 {
				return nil, fmt.Errorf("%w: unclosed (", ErrAlt)
			}
			choices, err := parseAlt(s[i+1 : i+j])
			if err != nil {
				return nil, err
			}
			pos := len(seg.Val)
			if pendGap != nil || pendUnbounded {
				pos = 0
			}
			for range choices[0] {
				addByte(0, 0)
			}
			seg.Alts = append(seg.Alts, Alt{Pos: pos, Choices: choices})
			i += j + 1
		default:
			if i+1 >= len(s) {
				return nil, fmt.Errorf("%w: odd number of hex digits", ErrHex)
			}
			v, m, err := hexByte(s[i], s[i+1])
			if err != nil {
				return nil, err
			}
			addByte(v, m)
			i += 2
		}
	}
	if pendGap != nil || pendUnbounded {
		return nil, fmt.Errorf("%w: a gap must lie between bytes", ErrHex)
	}
	closeSeg()
	closePart()
	for i := range p.Parts {
		pt := &p.Parts[i]
		if pt.Span() > MaxPartSpan {
			return nil, fmt.Errorf("%w: a part spans more than %d bytes", ErrTooLong, MaxPartSpan)
		}
		pt.Anchor, pt.AnchorLen = findAnchor(&pt.Segs[0], anchorLen), anchorLen
		if pt.Anchor < 0 {
			pt.Anchor, pt.AnchorLen = findAnchor(&pt.Segs[0], shortAnchorLen), shortAnchorLen
		}
		if needAnchor && pt.Anchor < 0 {
			return nil, fmt.Errorf("%w: part %d", ErrNoAnchor, i)
		}
	}
	return p, nil
}

// findAnchor returns the offset of the first n literal bytes in a row in s,
// or -1.
func findAnchor(s *Segment, n int) int {
	run := 0
	for i, m := range s.Mask {
		if m != 0xFF {
			run = 0
			continue
		}
		run++
		if run == n {
			return i - n + 1
		}
	}
	return -1
}

func parseRange(r string) (lo, hi int, err error) {
	num := func(t string) (int, error) {
		if t == "" || len(t) > 7 {
			return 0, fmt.Errorf("%w: gap {%s}", ErrHex, r)
		}
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: gap {%s}", ErrHex, r)
		}
		if n > MaxPartSpan {
			return 0, fmt.Errorf("%w: gap {%s}", ErrTooLong, r)
		}
		return n, nil
	}
	a, b, dash := strings.Cut(r, "-")
	if !dash {
		n, err := num(a)
		return n, n, err
	}
	if a == "" && b == "" {
		return 0, 0, fmt.Errorf("%w: gap {-}", ErrHex)
	}
	lo, hi = 0, -1
	if a != "" {
		if lo, err = num(a); err != nil {
			return
		}
	}
	if b != "" {
		if hi, err = num(b); err != nil {
			return
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("%w: gap {%s} has max < min", ErrHex, r)
		}
	}
	return lo, hi, nil
}

func parseAlt(body string) ([][]byte, error) {
	parts := strings.Split(body, "|")
	if len(parts) < 2 {
		return nil, fmt.Errorf("%w: (%s) needs two choices", ErrAlt, body)
	}
	var out [][]byte
	for _, c := range parts {
		if c == "" || len(c)%2 != 0 {
			return nil, fmt.Errorf("%w: (%s): choices must be whole bytes", ErrAlt, body)
		}
		if out != nil && len(c) != 2*len(out[0]) {
			return nil, fmt.Errorf("%w: (%s): choices of unequal length", ErrUnsupported, body)
		}
		b := make([]byte, len(c)/2)
		for i := range b {
			v, m, err := hexByte(c[2*i], c[2*i+1])
			if err != nil {
				return nil, fmt.Errorf("%w: (%s): choices must be hex", ErrAlt, body)
			}
			if m != 0xFF {
				return nil, fmt.Errorf("%w: (%s): wildcards in a choice", ErrUnsupported, body)
			}
			b[i] = v
		}
		out = append(out, b)
	}
	return out, nil
}

func nibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// hexByte reads two hex digits, either of which may be `?`.
func hexByte(a, b byte) (v, m byte, err error) {
	var hi, lo byte
	var ok bool
	if a == '?' {
		m &^= 0xF0
	} else if hi, ok = nibble(a); ok {
		m |= 0xF0
	} else {
		return 0, 0, fmt.Errorf("%w: %q", ErrHex, string([]byte{a, b}))
	}
	if b == '?' {
	} else if lo, ok = nibble(b); ok {
		m |= 0x0F
	} else {
		return 0, 0, fmt.Errorf("%w: %q", ErrHex, string([]byte{a, b}))
	}
	return (hi<<4 | lo) & m, m, nil
}
