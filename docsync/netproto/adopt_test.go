package netproto

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// adoptRequests returns a takeover and a handover request of a real log.
func adoptRequests(t testing.TB) (takeover, handover *AdoptRequest) {
	t.Helper()
	_, seqKey, _ := ed25519.GenerateKey(nil)
	_, newKey, _ := ed25519.GenerateKey(nil)
	admin, err := docsync.NewIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := docsync.DocID{0xad, 0x0b}
	r, err := docsync.Create(docsync.Config{Doc: doc, Sequencer: seqKey.Public().(ed25519.PublicKey), Identity: admin})
	if err != nil {
		t.Fatal(err)
	}
	ref := sequencer.NewReference(doc, seqKey)
	if _, err := ref.Drive(r); err != nil {
		t.Fatal(err)
	}
	if err := r.Takeover(newKey.Public().(ed25519.PublicKey), "/ip4/10.0.0.1/udp/9/quic-v1"); err != nil {
		t.Fatal(err)
	}
	env := r.Ready().Submit[0]
	r.Advance()
	takeover = &AdoptRequest{Takeover: env}
	// A handover of another replica of the same log, ordered by the old sequencer.
	r2, _ := docsync.Create(docsync.Config{Doc: doc, Sequencer: seqKey.Public().(ed25519.PublicKey), Identity: admin})
	ref2 := sequencer.NewReference(doc, seqKey)
	if _, err := ref2.Drive(r2); err != nil {
		t.Fatal(err)
	}
	if err := r2.Move(newKey.Public().(ed25519.PublicKey), ""); err != nil {
		t.Fatal(err)
	}
	es, err := ref2.Drive(r2)
	if err != nil || len(es) != 1 {
		t.Fatalf("handover: %v (%d entries)", err, len(es))
	}
	return takeover, &AdoptRequest{Handover: es[0]}
}

func TestAdoptRequestRoundTrip(t *testing.T) {
	to, ho := adoptRequests(t)
	for _, a := range []*AdoptRequest{to, ho} {
		b, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeAdoptRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Doc() != a.Doc() || got.Base() != a.Base() || (got.Takeover == nil) != (a.Takeover == nil) {
			t.Fatalf("round trip: %+v, want %+v", got, a)
		}
	}
	if to.Base() != 1 || ho.Base() != 1 {
		t.Fatalf("bases %d, %d: both continue from the genesis", to.Base(), ho.Base())
	}
	// A takeover envelope under the handover tag, and the reverse, are refused.
	b, _ := to.Marshal()
	b[0] = adoptHandover
	if _, err := DecodeAdoptRequest(b); err == nil {
		t.Fatal("a takeover envelope decoded as a handover entry")
	}
	hb, _ := ho.Handover.Envelope.Marshal()
	if _, err := DecodeAdoptRequest(append([]byte{adoptTakeover}, hb...)); err == nil {
		t.Fatal("a handover envelope decoded as a takeover")
	}
	if _, err := (&AdoptRequest{}).Marshal(); err == nil {
		t.Fatal("an empty request encoded")
	}
}

func FuzzDecodeAdoptRequest(f *testing.F) {
	to, ho := adoptRequests(f)
	for _, a := range []*AdoptRequest{to, ho} {
		b, _ := a.Marshal()
		f.Add(b)
	}
	f.Add([]byte{adoptTakeover})
	f.Add([]byte{adoptHandover, 0})
	f.Add([]byte{'X', 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAdoptRequest(b)
		if err != nil {
			return
		}
		out, err := a.Marshal()
		if err != nil {
			t.Fatalf("accepted request does not encode: %v", err)
		}
		again, err := DecodeAdoptRequest(out)
		if err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		if out2, _ := again.Marshal(); !bytes.Equal(out, out2) {
			t.Fatal("adopt request encoding is not stable")
		}
		_ = a.Base()
		_ = a.Doc()
	})
}
