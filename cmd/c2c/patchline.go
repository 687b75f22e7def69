package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// decodePatch decodes one JSON patch line. The lines c2c's own benches
// write, {"pos":N,"del":N,"ins":"..."} with an insert free of escapes,
// are read by hand; any other line goes to encoding/json, which gives the
// same patch for those. Reflection made encoding/json 60% of device A's
// CPU in c2c bench trace (259,778 lines), where a phone's keyboard costs
// nothing of the kind.
func decodePatch(b []byte) (patch, error) {
	if p, ok := fastPatch(b); ok {
		return p, nil
	}
	var p patch
	err := json.Unmarshal(b, &p)
	return p, err
}

// fastPatch reads exactly {"pos":N,"del":N,"ins":"S"}: N decimal without
// a sign or leading zero (at most maxPatchDigits digits), S without a backslash,
// quote or control character, valid UTF-8. Anything else is not ok.
func fastPatch(b []byte) (patch, bool) {
	var p patch
	var ok bool
	if b, ok = cutPrefix(b, `{"pos":`); !ok {
		return p, false
	}
	if p.Pos, b, ok = cutNumber(b); !ok {
		return p, false
	}
	if b, ok = cutPrefix(b, `,"del":`); !ok {
		return p, false
	}
	if p.Del, b, ok = cutNumber(b); !ok {
		return p, false
	}
	if b, ok = cutPrefix(b, `,"ins":"`); !ok {
		return p, false
	}
	end := len(b) - len(`"}`)
	if end < 0 || string(b[end:]) != `"}` {
		return p, false
	}
	s := b[:end]
	for _, c := range s {
		if c == '\\' || c == '"' || c < 0x20 {
			return p, false
		}
	}
	if !utf8.Valid(s) {
		return p, false
	}
	p.Ins = string(s)
	return p, true
}

// maxPatchDigits keeps a number read by hand inside an int (9 digits
// where int is 32 bits); a longer one goes to encoding/json, which refuses
// what does not fit.
const maxPatchDigits = 9 + 6*(strconv.IntSize/64)

func cutPrefix(b []byte, prefix string) ([]byte, bool) {
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return b, false
	}
	return b[len(prefix):], true
}

// cutNumber reads a JSON non-negative integer without exponent or
// fraction (the digits must end where a ',' or '}' follows, which the
// caller's next cutPrefix checks).
func cutNumber(b []byte) (int, []byte, bool) {
	n, i := 0, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		i++
	}
	if i == 0 || i > maxPatchDigits || (i > 1 && b[0] == '0') {
		return 0, b, false
	}
	return n, b[i:], true
}
