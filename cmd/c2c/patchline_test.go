package main

import (
	"encoding/json"
	"testing"
)

func TestDecodePatch(t *testing.T) {
	for _, line := range []string{
		`{"pos":0,"del":0,"ins":"a"}`,
		`{"pos":12,"del":3,"ins":""}`,
		`{"pos":7,"del":0,"ins":"héllo 世界"}`,
		`{"pos":1,"del":0,"ins":"\u003cb\u003e"}`, // escapes: encoding/json's way
		`{"pos":1,"del":0,"ins":"a\"b"}`,
		`{"del":1,"pos":2,"ins":"x"}`, // other order
		`{"pos": 1, "del": 0, "ins": "x"}`,
	} {
		got, err := decodePatch([]byte(line))
		var want patch
		werr := json.Unmarshal([]byte(line), &want)
		if (err == nil) != (werr == nil) || got != want {
			t.Errorf("%s: got %+v, %v; encoding/json %+v, %v", line, got, err, want, werr)
		}
	}
	if _, ok := fastPatch([]byte(`{"pos":1,"del":0,"ins":"x"}`)); !ok {
		t.Error("the benches' own line is not read by hand")
	}
	for _, line := range []string{`{"pos":01,"del":0,"ins":"x"}`, `{"pos":-1,"del":0,"ins":"x"}`, `{"pos":1,"del":0,"ins":"x"} `, `{"pos":1,"del":0,"ins":"\xff"}`} {
		if _, ok := fastPatch([]byte(line)); ok {
			t.Errorf("%q read by hand", line)
		}
	}
}

// FuzzDecodePatch: a line read by hand gives what encoding/json gives.
func FuzzDecodePatch(f *testing.F) {
	for _, s := range []string{`{"pos":0,"del":0,"ins":"a"}`, `{"pos":10,"del":2,"ins":"héllo"}`, `{"pos":0,"del":0,"ins":"\u003c"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := fastPatch(b)
		if !ok {
			_, _ = decodePatch(b) // must not panic
			return
		}
		var want patch
		if err := json.Unmarshal(b, &want); err != nil || got != want {
			t.Fatalf("%q: by hand %+v; encoding/json %+v, %v", b, got, want, err)
		}
	})
}
