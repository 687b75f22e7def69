package ot

import (
	"errors"
	"testing"
)

func ops(f func(o *Op)) Op {
	var o Op
	f(&o)
	return o
}

func TestBuilderNormalizes(t *testing.T) {
	tests := []struct {
		name string
		got  Op
		want string
	}{
		{"empty", ops(func(o *Op) {}), "[]/0->0"},
		{"zero counts dropped", ops(func(o *Op) { o.Retain(0).Insert("").Delete(0) }), "[]/0->0"},
		{"retains merge", ops(func(o *Op) { o.Retain(2).Retain(3) }), "[r5]/5->5"},
		{"inserts merge", ops(func(o *Op) { o.Insert("a").Insert("€") }), `[i"a€"]/0->2`},
		{"deletes merge", ops(func(o *Op) { o.Delete(1).Delete(2) }), "[d3]/3->0"},
		{"insert moves before delete", ops(func(o *Op) { o.Retain(1).Delete(2).Insert("x") }), `[r1 i"x" d2]/3->2`},
		{"insert joins insert across delete", ops(func(o *Op) { o.Insert("a").Delete(1).Insert("b").Delete(1) }), `[i"ab" d2]/2->2`},
		{"mixed", ops(func(o *Op) { o.Retain(1).Insert("😀").Retain(1).Delete(1) }), `[r1 i"😀" r1 d1]/3->3`},
	}
	for _, tt := range tests {
		if s := tt.got.String(); s != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, s, tt.want)
		}
		if err := tt.got.Validate(); err != nil || !tt.got.IsNormalized() {
			t.Errorf("%s: valid=%v normalized=%v", tt.name, err, tt.got.IsNormalized())
		}
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		op   Op
		want error
	}{
		{"zero retain", Op{Comps: []Component{{Kind: Retain}}}, ErrMalformed},
		{"negative delete", Op{Comps: []Component{{Kind: Delete, N: -1}}, BaseLen: -1}, ErrMalformed},
		{"unknown kind", Op{Comps: []Component{{Kind: 7, N: 1}}, BaseLen: 1, TargetLen: 1}, ErrMalformed},
		{"insert N mismatch", Op{Comps: []Component{{Kind: Insert, N: 1, Text: "ab"}}, TargetLen: 1}, ErrMalformed},
		{"insert bad utf8", Op{Comps: []Component{{Kind: Insert, N: 1, Text: "\xff"}}, TargetLen: 1}, ErrInvalidUTF8},
		{"base len wrong", Op{Comps: []Component{{Kind: Retain, N: 2}}, BaseLen: 3, TargetLen: 2}, ErrMalformed},
		{"overflow", Op{Comps: []Component{{Kind: Retain, N: 1 << 62}, {Kind: Delete, N: 1 << 62}}}, ErrMalformed},
	}
	for _, tt := range tests {
		if err := tt.op.Validate(); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
		// Every entry point refuses it with the same error, and never panics.
		if _, err := ApplyString("", tt.op); !errors.Is(err, tt.want) {
			t.Errorf("%s: ApplyString: %v", tt.name, err)
		}
		if _, _, err := Transform(tt.op, tt.op); !errors.Is(err, tt.want) {
			t.Errorf("%s: Transform: %v", tt.name, err)
		}
		if _, err := Compose(tt.op, tt.op); !errors.Is(err, tt.want) {
			t.Errorf("%s: Compose: %v", tt.name, err)
		}
		if err := NewDoc("").Apply(tt.op); !errors.Is(err, tt.want) {
			t.Errorf("%s: Doc.Apply: %v", tt.name, err)
		}
		if _, err := tt.op.MarshalBinary(); !errors.Is(err, tt.want) {
			t.Errorf("%s: MarshalBinary: %v", tt.name, err)
		}
	}
}

func TestFromPatch(t *testing.T) {
	tests := []struct {
		docLen, pos, del int
		ins              string
		want             string
	}{
		{0, 0, 0, "hi", `[i"hi"]/0->2`},
		{5, 2, 0, "x", `[r2 i"x" r3]/5->6`},
		{5, 2, 2, "", `[r2 d2 r1]/5->3`},
		{5, 5, 0, "€", `[r5 i"€"]/5->6`},
		{5, 0, 5, "ab", `[i"ab" d5]/5->2`},
		{5, 3, 0, "", `[r5]/5->5`},
	}
	for _, tt := range tests {
		o, err := FromPatch(tt.docLen, tt.pos, tt.del, tt.ins)
		if err != nil || o.String() != tt.want {
			t.Errorf("FromPatch(%d,%d,%d,%q) = %v, %v; want %s", tt.docLen, tt.pos, tt.del, tt.ins, o, err, tt.want)
		}
	}
	for _, bad := range [][3]int{{5, 6, 0}, {5, 4, 2}, {5, -1, 0}, {5, 0, -1}, {-1, 0, 0}} {
		if _, err := FromPatch(bad[0], bad[1], bad[2], ""); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("FromPatch%v: err = %v, want ErrOutOfRange", bad, err)
		}
	}
	if _, err := FromPatch(1, 0, 0, "\xc3"); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("bad utf8 insert: err = %v", err)
	}
}

func TestApplyInvertExamples(t *testing.T) {
	o := ops(func(o *Op) { o.Retain(1).Insert("😀x").Delete(2).Retain(1) })
	got, err := ApplyString("aé€b", o)
	if err != nil || got != "a😀xb" {
		t.Fatalf("ApplyString = %q, %v", got, err)
	}
	inv, err := Invert(o, "aé€b")
	if err != nil || inv.String() != `[r1 i"é€" d2 r1]/4->4` {
		t.Fatalf("Invert = %v, %v", inv, err)
	}
	if _, err := ApplyString("abc", o); !errors.Is(err, ErrBaseLength) {
		t.Fatalf("short doc: err = %v", err)
	}
	if err := NewDoc("abc").Apply(o); !errors.Is(err, ErrBaseLength) {
		t.Fatalf("Doc short: err = %v", err)
	}
	if _, err := Invert(o, "abc"); !errors.Is(err, ErrBaseLength) {
		t.Fatalf("Invert short doc: err = %v", err)
	}
}

func TestTransformTieAndMismatch(t *testing.T) {
	a := ops(func(o *Op) { o.Retain(1).Insert("A").Retain(1) })
	b := ops(func(o *Op) { o.Retain(1).Insert("B").Retain(1) })
	a1, b1, err := Transform(a, b)
	if err != nil {
		t.Fatal(err)
	}
	s1 := mustApply(t, mustApply(t, "xy", a), b1)
	s2 := mustApply(t, mustApply(t, "xy", b), a1)
	if s1 != "xABy" || s2 != "xABy" {
		t.Fatalf("tie: got %q and %q, want a's insert first (xABy)", s1, s2)
	}
	if _, _, err := Transform(a, ops(func(o *Op) { o.Retain(3) })); !errors.Is(err, ErrBaseLength) {
		t.Fatalf("transform mismatch: %v", err)
	}
	if _, err := Compose(a, ops(func(o *Op) { o.Retain(2) })); !errors.Is(err, ErrBaseLength) {
		t.Fatalf("compose mismatch: %v", err)
	}
	if !ops(func(o *Op) { o.Retain(3) }).IsNoop() || a.IsNoop() || !(Op{}).IsNoop() {
		t.Fatal("IsNoop wrong")
	}
}

func TestCloneIsIndependent(t *testing.T) {
	o := ops(func(o *Op) { o.Retain(1).Insert("a") })
	c := o.Clone()
	c.Insert("b")
	if o.String() != `[r1 i"a"]/1->2` || c.String() != `[r1 i"ab"]/1->3` {
		t.Fatalf("o=%v c=%v", o, c)
	}
}

func TestDocClone(t *testing.T) {
	d := NewDoc("abc")
	c := d.Clone()
	o, _ := FromPatch(3, 1, 1, "XY")
	if err := c.Apply(o); err != nil {
		t.Fatal(err)
	}
	if d.String() != "abc" || c.String() != "aXYc" || c.Len() != 4 {
		t.Fatalf("d=%q c=%q", d, c)
	}
}
