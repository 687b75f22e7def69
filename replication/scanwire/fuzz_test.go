package scanwire

import (
	"testing"
)

// FuzzDecoders: no input panics any decoder, and what decodes re-encodes
// to the same bytes.
func FuzzDecoders(f *testing.F) {
	key, _ := newKey(f)
	m := &Manifest{Version: 2, HashSigs: 1, BodySigs: 2, Files: []FileSum{{Name: "a.ndb", Size: 3}}}
	_ = m.Sign(key)
	f.Add(m.Marshal())
	v := &SignedVerdict{Size: 9, Version: 2}
	_ = v.Sign(key)
	f.Add(v.Marshal())
	f.Add(query{size: 5}.marshal())
	f.Add(step(3, 9))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		if m, err := UnmarshalManifest(p); err == nil {
			if string(m.Marshal()) != string(p) {
				t.Fatalf("manifest re-encodes differently")
			}
		}
		if v, err := UnmarshalVerdict(p); err == nil {
			if string(v.Marshal()) != string(p) {
				t.Fatalf("verdict re-encodes differently")
			}
		}
		_, _ = unmarshalQuery(p)
		if len(p) > 0 {
			_, _, _ = unmarshalStep(p)
			_ = refusalErr(p)
		}
		_, _ = UnmarshalReport(p)
	})
}
