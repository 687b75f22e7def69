package dht

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
)

// TestWireBytes pins the exact bytes of every record and message encoding
// (a hash for the signed records, which are long): a codec change that
// moves a byte is a wire change.
func TestWireBytes(t *testing.T) {
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:8]) }
	c := testCert(t, seededKey(t, 1), "phone", 7, t0.Add(time.Hour))
	idx, err := SignDeviceIndex(seededKey(t, 1), DeviceIndex{Devices: []string{"phone", "tablet"}, Seq: 3, EOL: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := encodePair("/c2c/k", []byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	summary, err := encodeSummary(keyedSummary{Key: "/c2c/k", summary: summary{Seq: 9, EOL: 1 << 40, Digest: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"cert", sum(mustMarshal(t, c)), "2c6e8900d7895c80"},
		{"index", sum(mustMarshalIndex(t, idx)), "0711885afc970395"},
		{"pair", hex.EncodeToString(pair), "00062f6332632f6b0003010203"},
		{"summary", hex.EncodeToString(summary), "00062f6332632f6b000000000000000900000100000000000102030405060708"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}

func mustMarshalIndex(t *testing.T, d *DeviceIndex) []byte {
	t.Helper()
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
