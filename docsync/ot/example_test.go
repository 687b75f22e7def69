package ot_test

import (
	"fmt"

	"github.com/clone2clone/c2c/docsync/ot"
)

// Two clones edit "hello" concurrently; the sequencer orders a first.
func ExampleTransform() {
	var a, b ot.Op
	a.Retain(5).Insert(" world") // committed first
	b.Insert("oh, ").Retain(5)   // concurrent, ordered after a

	a2, b2, err := ot.Transform(a, b)
	if err != nil {
		panic(err)
	}
	viaA, _ := ot.ApplyString("hello", a)
	viaA, _ = ot.ApplyString(viaA, b2)
	viaB, _ := ot.ApplyString("hello", b)
	viaB, _ = ot.ApplyString(viaB, a2)
	fmt.Println(viaA)
	fmt.Println(viaB)
	// Output:
	// oh, hello world
	// oh, hello world
}

// A clone buffers local edits by composing them, and ships the encoding.
func ExampleCompose() {
	doc := ot.NewDoc("abc")
	e1, _ := ot.FromPatch(doc.Len(), 3, 0, "d")   // type "d" at the end
	e2, _ := ot.FromPatch(e1.TargetLen, 0, 1, "") // delete "a"
	buf, _ := ot.Compose(e1, e2)
	wire, _ := buf.MarshalBinary()
	got, _ := ot.Decode(wire)
	_ = doc.Apply(got)
	fmt.Println(buf, doc, len(wire), "bytes")
	// Output: [d1 r2 i"d"]/3->3 bcd 6 bytes
}
