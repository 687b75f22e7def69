package link

import (
	"errors"
	"testing"
)

// A member list is refused when its count claims more than arrived, a
// role is unknown or the flags are not 0 or 1.
func TestDecodeMembersRejects(t *testing.T) {
	one := append([]byte{byte(KindMembers), 1}, make([]byte, 32)...)
	for name, b := range map[string][]byte{
		"count beyond the bytes": {byte(KindMembers), 0xff, 0xff, 0x03, 1, 2},
		"count over the limit":   append([]byte{byte(KindMembers), 0x81, 0x40}, make([]byte, 34*4097)...),
		"role 0":                 append(append([]byte{}, one...), 0, 0),
		"role 4":                 append(append([]byte{}, one...), 4, 0),
		"flags 2":                append(append([]byte{}, one...), 2, 2),
		"short":                  append(append([]byte{}, one...), 2),
		"trailing":               append(append([]byte{}, one...), 2, 0, 9),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	m, err := Decode(append(append([]byte{}, one...), 3, 1))
	if err != nil || len(m.Members) != 1 || !m.Members[0].Self || m.Members[0].Role != 3 {
		t.Fatalf("one admin, self: %+v, %v", m, err)
	}
}
