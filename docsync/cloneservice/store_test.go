package cloneservice

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

func testEnvelope(t testing.TB) *docsync.Envelope {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	env := &docsync.Envelope{Doc: docsync.DocID{1}, Counter: 3, Parent: 2, Epoch: 1, Kind: docsync.KindEdit,
		Nonce: make([]byte, docsync.NonceSize), Body: []byte("ciphertext")}
	copy(env.Author[:], pub)
	env.Sign(priv)
	return env
}

func TestPendingRoundTrip(t *testing.T) {
	op, err := ot.FromPatch(3, 1, 1, "xyz")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*docsync.Pending{
		{Counter: 0},
		{Counter: 7, Buffer: &op},
		{Counter: 9, InFlight: testEnvelope(t)},
		{Counter: 11, InFlight: testEnvelope(t), Buffer: &op},
	} {
		b, err := MarshalPending(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnmarshalPending(b)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := MarshalPending(got)
		if !bytes.Equal(b, again) || got.Counter != p.Counter || (got.InFlight == nil) != (p.InFlight == nil) ||
			(got.Buffer == nil) != (p.Buffer == nil) {
			t.Fatalf("round trip of %+v gave %+v", p, got)
		}
	}
	if _, err := UnmarshalPending([]byte{1, 0}); !errors.Is(err, ErrBadPending) {
		t.Fatalf("short record: %v", err)
	}
	if _, err := UnmarshalPending(append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0}, 0x80)); !errors.Is(err, ErrBadPending) {
		t.Fatalf("bad length: %v", err)
	}
}

// FuzzUnmarshalPending: no panic on arbitrary records; an accepted one
// re-encodes to a record that decodes to the same encoding (the envelope's
// protobuf need not be canonical, so the first bytes may differ).
func FuzzUnmarshalPending(f *testing.F) {
	op, _ := ot.FromPatch(0, 0, 0, "hi")
	for _, p := range []*docsync.Pending{{Counter: 1}, {Counter: 2, Buffer: &op}, {Counter: 3, InFlight: testEnvelope(f)}} {
		b, _ := MarshalPending(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := UnmarshalPending(b)
		if err != nil {
			return
		}
		out, err := MarshalPending(p)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := UnmarshalPending(out)
		if err != nil {
			t.Fatalf("re-encoded pending does not decode: %v", err)
		}
		if out2, _ := MarshalPending(p2); !bytes.Equal(out, out2) || p2.Counter != p.Counter {
			t.Fatal("pending encoding is not stable")
		}
	})
}
