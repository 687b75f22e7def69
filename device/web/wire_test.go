package web

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync/ot"
)

func TestDecodeOp(t *testing.T) {
	op, err := decodeOp([]byte(`[2,"é𝟐",-3,1]`))
	if err != nil {
		t.Fatal(err)
	}
	want := ot.Op{}
	want.Retain(2).Insert("é𝟐").Delete(3).Retain(1)
	if !op.Equal(want) {
		t.Fatalf("got %v, want %v", op, want)
	}
	b, _ := json.Marshal(encodeOp(op))
	if string(b) != `[2,"é𝟐",-3,1]` {
		t.Fatalf("encoded %s", b)
	}
	for _, bad := range []string{`[0]`, `[1.5]`, `[""]`, `[true]`, `{}`, `[2147483648]`, `[-2147483648]`, `[1e3]`, `"x"`, `[1,null]`} {
		if _, err := decodeOp([]byte(bad)); !errors.Is(err, ErrMessage) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func FuzzDecodeIn(f *testing.F) {
	for _, s := range []string{
		`{"t":"edit","c":1,"v":0,"op":[3,"ab",-1]}`, `{"t":"open","doc":"` + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" + `"}`,
		`{"t":"sel","a":1,"h":4}`, `{"t":"undo"}`, `{"t":"connect","online":true}`, `{"t":"edit","c":1,"op":[-5,"\ud800"]}`,
		`{"t":"edit","c":2,"g":true,"op":[1]}`, `{"t":"edit","c":0,"op":[]}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, op, err := decodeIn(b)
		if err != nil {
			if !errors.Is(err, ErrMessage) {
				t.Fatalf("error not ErrMessage: %v", err)
			}
			return
		}
		if m.T == inEdit {
			if err := op.Validate(); err != nil {
				t.Fatalf("decoded an invalid op: %v", err)
			}
			enc, _ := json.Marshal(encodeOp(*op))
			again, err := decodeOp(enc)
			if err != nil || !again.Equal(*op) {
				t.Fatalf("op %v does not round-trip: %v", op, err)
			}
		}
	})
}
