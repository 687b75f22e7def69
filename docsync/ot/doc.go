package ot

import (
	"fmt"
	"unicode/utf8"
)

// Doc is a mutable text that applies ops in place. It is a gap buffer of
// code points: edits cluster around the cursor in real editing traces, so
// moving the gap is usually short and an edit costs O(edit + distance moved)
// instead of O(document). A Doc is not safe for concurrent use.
type Doc struct {
	buf      []rune // text is buf[:gapStart] + buf[gapEnd:]
	gapStart int
	gapEnd   int
}

// NewDoc returns a Doc holding s. Invalid UTF-8 bytes in s become U+FFFD.
func NewDoc(s string) *Doc {
	n := utf8.RuneCountInString(s)
	buf := make([]rune, n+max(64, n/8)) // decoded in place: one allocation, not a []rune copy
	i := 0
	for _, r := range s {
		buf[i] = r
		i++
	}
	return &Doc{buf: buf, gapStart: n, gapEnd: len(buf)}
}

// Len returns the length of the text in code points.
func (d *Doc) Len() int { return len(d.buf) - (d.gapEnd - d.gapStart) }

// String returns the text.
func (d *Doc) String() string {
	b := make([]byte, 0, d.Len())
	for _, r := range d.buf[:d.gapStart] {
		b = utf8.AppendRune(b, r)
	}
	for _, r := range d.buf[d.gapEnd:] {
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// Apply applies o to the text. o must be valid with BaseLen == d.Len(); on
// error the text is unchanged.
func (d *Doc) Apply(o Op) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.BaseLen != d.Len() {
		return fmt.Errorf("%w: op spans %d code points, document has %d", ErrBaseLength, o.BaseLen, d.Len())
	}
	pos := 0 // position in the text being built
	for _, c := range o.Comps {
		switch c.Kind {
		case Retain:
			pos += c.N
		case Insert:
			d.moveGap(pos)
			d.reserve(c.N)
			for _, r := range c.Text {
				d.buf[d.gapStart] = r
				d.gapStart++
			}
			pos += c.N
		case Delete:
			d.moveGap(pos)
			d.gapEnd += c.N
		}
	}
	return nil
}

// moveGap puts the gap at text position pos.
func (d *Doc) moveGap(pos int) {
	switch {
	case pos < d.gapStart:
		n := d.gapStart - pos
		copy(d.buf[d.gapEnd-n:d.gapEnd], d.buf[pos:d.gapStart])
		d.gapStart -= n
		d.gapEnd -= n
	case pos > d.gapStart:
		n := pos - d.gapStart
		copy(d.buf[d.gapStart:], d.buf[d.gapEnd:d.gapEnd+n])
		d.gapStart += n
		d.gapEnd += n
	}
}

// reserve makes the gap at least n code points wide, growing the buffer
// geometrically so that a long run of inserts costs amortized O(1) each.
func (d *Doc) reserve(n int) {
	if d.gapEnd-d.gapStart >= n {
		return
	}
	textLen := d.Len()
	gap := max(n, 64, (textLen+n)/2)
	buf := make([]rune, textLen+gap)
	copy(buf, d.buf[:d.gapStart])
	tail := len(d.buf) - d.gapEnd
	copy(buf[len(buf)-tail:], d.buf[d.gapEnd:])
	d.buf = buf
	d.gapEnd = len(buf) - tail
}

// Clone returns an independent copy of d.
func (d *Doc) Clone() *Doc {
	c := *d
	c.buf = append([]rune(nil), d.buf...)
	return &c
}
