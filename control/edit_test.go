package control

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync/ot"
)

func TestEditOps(t *testing.T) {
	const text = "héllo"
	cases := []struct {
		req  EditRequest
		want string
	}{
		{EditRequest{Kind: EditAppend, Text: "!"}, "héllo!"},
		{EditRequest{Kind: EditInsert, Text: "«", At: 0}, "«héllo"},
		{EditRequest{Kind: EditInsert, Text: "-", At: 2}, "hé-llo"},
		{EditRequest{Kind: EditDelete, At: 1, Count: 2}, "hlo"},
		{EditRequest{Kind: EditSet, Text: "new"}, "new"},
		{EditRequest{Kind: EditSet}, ""},
	}
	for _, tc := range cases {
		ops, err := editOps(tc.req, utf8.RuneCountInString(text))
		if err != nil {
			t.Fatalf("%+v: %v", tc.req, err)
		}
		got, err := ot.ApplyString(text, ops[0])
		if err != nil || got != tc.want {
			t.Fatalf("%+v: got %q (%v), want %q", tc.req, got, err, tc.want)
		}
	}
	for _, req := range []EditRequest{
		{Kind: EditInsert, At: 6}, {Kind: EditInsert, At: -1},
		{Kind: EditDelete, At: 4, Count: 2}, {Kind: EditDelete, At: 0, Count: 0},
		{Kind: "replace"},
	} {
		if _, err := editOps(req, 5); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%+v: %v, want ErrBadRequest", req, err)
		}
	}
}

// Any request either is refused as a bad request or yields one op that
// applies to a text of the given length.
func FuzzEditOps(f *testing.F) {
	f.Add("insert", "abc", 0, 0, 3)
	f.Add("delete", "", 1, 2, 5)
	f.Add("append", "ü", 0, 0, 0)
	f.Add("set", "x", 0, 0, 10)
	f.Add("delete", "", -1, 1<<62, 4)
	f.Fuzz(func(t *testing.T, kind, text string, at, count, length int) {
		if length < 0 || length > 1<<12 || !utf8.ValidString(text) {
			return
		}
		ops, err := editOps(EditRequest{Kind: kind, Text: text, At: at, Count: count}, length)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v is not ErrBadRequest", err)
			}
			return
		}
		if len(ops) != 1 {
			t.Fatalf("%d ops", len(ops))
		}
		if _, err := ot.ApplyString(strings.Repeat("a", length), ops[0]); err != nil {
			t.Fatalf("op does not apply: %v", err)
		}
	})
}
