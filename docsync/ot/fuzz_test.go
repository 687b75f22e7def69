package ot

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// The seed corpus for these targets is committed under testdata/fuzz/.

// FuzzDecode: Decode never panics, and whatever it accepts is a valid,
// normalized op whose encoding is exactly the input (canonical form).
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x01, 0x00})
	f.Add([]byte{0x01, 0x04, 2<<2 | 1, 1<<2 | 2, 'x', 1<<2 | 3, 4<<2 | 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Decode(data)
		if err != nil {
			return
		}
		checkCanonical(t, "decoded", o)
		again, err := o.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-encode of %v = % x, %v; input % x", o, again, err, data)
		}
		if o.BaseLen <= 1<<12 {
			s := strings.Repeat("é", o.BaseLen)
			got := mustApply(t, s, o)
			d := NewDoc(s)
			if err := d.Apply(o); err != nil || d.String() != got {
				t.Fatalf("Doc.Apply disagrees with ApplyString: %v", err)
			}
		}
	})
}

// opFromProgram turns fuzz bytes into an op on n code points: each byte
// picks a kind (low 2 bits) and a count (the rest); the remainder of the
// document is retained at the end so any program yields a valid op.
func opFromProgram(prog []byte, n int) Op {
	var o Op
	left := n
	for i, c := range prog {
		k := 1 + int(c>>2)%8
		switch c & 3 {
		case 0, 1:
			k = min(k, left)
			o.Retain(k)
			left -= k
		case 2:
			text := make([]rune, k)
			for j := range text {
				text[j] = alphabet[(i+j)%len(alphabet)]
			}
			o.Insert(string(text))
		case 3:
			k = min(k, left)
			o.Delete(k)
			left -= k
		}
	}
	return *o.Retain(left)
}

func fuzzDoc(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if utf8.RuneCountInString(s) > 256 {
		s = string([]rune(s)[:256])
	}
	return s
}

// FuzzTransform: TP1 holds and Transform matches the reference model for
// any pair of programs on any document; raw bytes decoded as ops never make
// Transform panic.
func FuzzTransform(f *testing.F) {
	f.Add("hello", []byte{0x05, 0x0a, 0x03}, []byte{0x0e, 0x07})
	f.Add("", []byte{0x02}, []byte{0x06})
	f.Fuzz(func(t *testing.T, doc string, pa, pb []byte) {
		doc = fuzzDoc(doc)
		n := utf8.RuneCountInString(doc)
		a, b := opFromProgram(pa, n), opFromProgram(pb, n)
		a1, b1, err := Transform(a, b)
		if err != nil {
			t.Fatalf("transform %v, %v: %v", a, b, err)
		}
		checkCanonical(t, "a'", a1)
		checkCanonical(t, "b'", b1)
		if l, r := mustApply(t, mustApply(t, doc, a), b1), mustApply(t, mustApply(t, doc, b), a1); l != r {
			t.Fatalf("TP1: %q a=%v b=%v: %q != %q", doc, a, b, l, r)
		}
		ra, rb := refTransform(toMarks(t, a), toMarks(t, b))
		if !a1.Equal(ra) || !b1.Equal(rb) {
			t.Fatalf("a=%v b=%v: got %v %v, reference %v %v", a, b, a1, b1, ra, rb)
		}
		// Arbitrary decoded ops: errors are fine, panics are not.
		if da, err := Decode(pa); err == nil {
			if db, err := Decode(pb); err == nil {
				_, _, _ = Transform(da, db)
			}
		}
	})
}

// FuzzCompose: Compose agrees with applying both ops in turn, and its
// result is canonical.
func FuzzCompose(f *testing.F) {
	f.Add("hello", []byte{0x05, 0x0a, 0x03}, []byte{0x0e, 0x07})
	f.Add("", []byte{0x02}, []byte{0x07, 0x06})
	f.Fuzz(func(t *testing.T, doc string, pa, pb []byte) {
		doc = fuzzDoc(doc)
		a := opFromProgram(pa, utf8.RuneCountInString(doc))
		b := opFromProgram(pb, a.TargetLen)
		ab, err := Compose(a, b)
		if err != nil {
			t.Fatalf("compose %v, %v: %v", a, b, err)
		}
		checkCanonical(t, "a∘b", ab)
		if want, got := mustApply(t, mustApply(t, doc, a), b), mustApply(t, doc, ab); got != want {
			t.Fatalf("%q a=%v b=%v ab=%v: %q != %q", doc, a, b, ab, got, want)
		}
		if da, err := Decode(pa); err == nil {
			if db, err := Decode(pb); err == nil {
				_, _ = Compose(da, db)
			}
		}
	})
}
