package scanwire

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/replication/scan"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

func TestManifestRoundTripAndSignature(t *testing.T) {
	key, id := newKey(t)
	other, otherID := newKey(t)
	m := &Manifest{Version: 7, HashSigs: 100000, BodySigs: 10001, Files: []FileSum{{Name: "main.ndb", Size: 42}, {Name: "x.hdb", Size: 1}}}
	m.Files[0].SHA256[3] = 9
	if err := m.Sign(key); err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalManifest(m.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(id); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Marshal(), m.Marshal()) || got.Version != 7 || len(got.Files) != 2 || got.Files[0] != m.Files[0] {
		t.Fatalf("round trip: %+v", got)
	}
	if err := got.Verify(otherID); !errors.Is(err, ErrSignature) {
		t.Fatalf("verified under another key: %v", err)
	}
	got.Version = 8
	if err := got.Verify(id); !errors.Is(err, ErrSignature) {
		t.Fatalf("a changed version verified: %v", err)
	}
	// A verdict's signature does not stand for a manifest's (domains).
	v := &SignedVerdict{Version: 7}
	_ = v.Sign(other)
	if err := (&Manifest{Version: 7, Signature: v.Signature}).Verify(otherID); !errors.Is(err, ErrSignature) {
		t.Fatalf("a verdict signature verified as a manifest: %v", err)
	}
}

func TestVerdictRoundTrip(t *testing.T) {
	key, id := newKey(t)
	v := &SignedVerdict{Size: 68, Version: 3, Verdict: scan.Verdict{Infected: true, Name: scan.EICARName, By: "body"}}
	v.SHA256[0] = 1
	if err := v.Sign(key); err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalVerdict(v.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(id); err != nil || got.Verdict != v.Verdict || got.Version != 3 || got.SHA256 != v.SHA256 {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	got.Verdict.Infected = false
	if err := got.Verify(id); !errors.Is(err, ErrSignature) {
		t.Fatalf("a flipped verdict verified: %v", err)
	}
}

func TestDecodersRefuse(t *testing.T) {
	for _, p := range [][]byte{nil, {1}, bytes.Repeat([]byte{0xff}, 20), make([]byte, MaxManifestBytes+1)} {
		if _, err := UnmarshalManifest(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("manifest %x: %v", p[:min(len(p), 8)], err)
		}
		if _, err := UnmarshalVerdict(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("verdict %x: %v", p[:min(len(p), 8)], err)
		}
		if _, err := unmarshalQuery(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("query %x: %v", p[:min(len(p), 8)], err)
		}
	}
	// A manifest announcing a million files is refused before any is read.
	if _, err := UnmarshalManifest([]byte{1, 0, 0, 0xc0, 0x84, 0x3d}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a million files: %v", err)
	}
}

// A version lower than one seen before is refused, and the highest one
// survives a restart of the client.
func TestVersionOnlyGoesUp(t *testing.T) {
	ctx := context.Background()
	prov, _, _ := startProvider(t)
	c := newClone(t, prov)
	if err := c.c.see(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := c.c.Sync(ctx); !errors.Is(err, ErrStale) {
		t.Fatalf("provider at version 0 after 5: %v", err)
	}
	again, err := NewClient(ctx, c.h, prov.ID(), c.c.ds, c.blobs)
	if err != nil || again.Version() != 5 {
		t.Fatalf("after restart: version %d, %v", again.Version(), err)
	}
}

// TestReportPins: a report made under keys of the forger's own (clone and
// "provider") is intact, so it verifies unpinned; pinning the real clone
// or provider refuses it, and pins that match accept it.
func TestReportPins(t *testing.T) {
	cloneKey, cloneID := newKey(t)
	provKey, provID := newKey(t)
	_, realClone := newKey(t)
	_, realProv := newKey(t)
	sum := [32]byte{1}
	v := &SignedVerdict{SHA256: sum, Size: 3, Version: 1}
	if err := v.Sign(provKey); err != nil {
		t.Fatal(err)
	}
	r := &Report{Clone: cloneID.String(), Provider: provID.String(), DBVersion: 1, Files: []ReportEntry{{
		Path: "x", SHA256: hex.EncodeToString(sum[:]), Size: 3, DBVersion: 1,
		Verdict: base64.StdEncoding.EncodeToString(v.Marshal())}}}
	raw, err := SignReport(r, cloneKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyReport(raw, ""); err != nil {
		t.Fatalf("an intact self-signed report: %v", err)
	}
	if _, err := VerifyReportFrom(raw, cloneID, provID); err != nil {
		t.Fatalf("matching pins: %v", err)
	}
	if _, err := VerifyReport(raw, realClone); !errors.Is(err, ErrSignature) {
		t.Fatalf("pinned to the real clone: %v", err)
	}
	if _, err := VerifyReportFrom(raw, "", realProv); !errors.Is(err, ErrSignature) {
		t.Fatalf("pinned to the real provider: %v", err)
	}
}
