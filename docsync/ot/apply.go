package ot

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// FromPatch turns one trace patch [pos, ndel, ins] on a document of docLen
// code points into an Op: retain pos, insert ins, delete ndel, retain the rest.
func FromPatch(docLen, pos, ndel int, ins string) (Op, error) {
	if docLen < 0 || pos < 0 || ndel < 0 || pos > docLen || ndel > docLen-pos {
		return Op{}, fmt.Errorf("%w: patch [%d, %d] on a document of %d", ErrOutOfRange, pos, ndel, docLen)
	}
	if !utf8.ValidString(ins) {
		return Op{}, ErrInvalidUTF8
	}
	var o Op
	o.Comps = make([]Component, 0, 4)
	o.Retain(pos).Insert(ins)
	o.Delete(ndel).Retain(docLen - pos - ndel)
	return o, nil
}

// ApplyString applies o to s and returns the result. s must be valid UTF-8
// with exactly o.BaseLen code points.
func ApplyString(s string, o Op) (string, error) {
	if err := o.Validate(); err != nil {
		return "", err
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: document", ErrInvalidUTF8)
	}
	if n := utf8.RuneCountInString(s); n != o.BaseLen {
		return "", fmt.Errorf("%w: op spans %d code points, document has %d", ErrBaseLength, o.BaseLen, n)
	}
	var b strings.Builder
	b.Grow(len(s) + insertBytes(o))
	i := 0 // byte offset in s
	for _, c := range o.Comps {
		switch c.Kind {
		case Retain:
			j := skipRunes(s, i, c.N)
			b.WriteString(s[i:j])
			i = j
		case Insert:
			b.WriteString(c.Text)
		case Delete:
			i = skipRunes(s, i, c.N)
		}
	}
	return b.String(), nil
}

// Invert returns the op that undoes o, given the document o was applied to:
// ApplyString(ApplyString(doc, o), Invert(o, doc)) == doc.
func Invert(o Op, doc string) (Op, error) {
	if err := o.Validate(); err != nil {
		return Op{}, err
	}
	if !utf8.ValidString(doc) {
		return Op{}, fmt.Errorf("%w: document", ErrInvalidUTF8)
	}
	if n := utf8.RuneCountInString(doc); n != o.BaseLen {
		return Op{}, fmt.Errorf("%w: op spans %d code points, document has %d", ErrBaseLength, o.BaseLen, n)
	}
	var inv Op
	inv.Comps = make([]Component, 0, len(o.Comps))
	i := 0
	for _, c := range o.Comps {
		switch c.Kind {
		case Retain:
			inv.Retain(c.N)
			i = skipRunes(doc, i, c.N)
		case Insert:
			inv.Delete(c.N)
		case Delete:
			j := skipRunes(doc, i, c.N)
			inv.insertN(doc[i:j], c.N)
			i = j
		}
	}
	return inv, nil
}

// skipRunes returns the byte offset n code points after byte offset i in s.
// The caller guarantees s has at least n code points from i.
func skipRunes(s string, i, n int) int {
	for ; n > 0 && i < len(s); n-- {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

func insertBytes(o Op) int {
	n := 0
	for _, c := range o.Comps {
		if c.Kind == Insert {
			n += len(c.Text)
		}
	}
	return n
}
