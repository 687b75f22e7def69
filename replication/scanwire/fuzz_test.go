package scanwire

import (
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func peerOf(k crypto.PrivKey) peer.ID {
	id, _ := peer.IDFromPrivateKey(k)
	return id
}

// FuzzDecoders: no input panics any decoder (VerifyReport's too, seeded
// with a signed report), and what decodes re-encodes to the same bytes.
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
	rep := &Report{Clone: peerOf(key).String(), Provider: peerOf(key).String(), Files: []ReportEntry{
		{Path: "x", Size: 9, DBVersion: 2, SHA256: hex.EncodeToString(v.SHA256[:]), Verdict: base64.StdEncoding.EncodeToString(v.Marshal())},
		{Path: "y", Error: "unavailable"}}}
	if raw, err := SignReport(rep, key); err == nil {
		f.Add(raw)
	}
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
		_, _ = VerifyReport(p, "")
	})
}
