package docsync_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

func fill(b byte) (a [32]byte) {
	for i := range a {
		a[i] = b
	}
	return a
}

// TestSigningBytes pins the canonical, domain-separated encodings byte by byte.
func TestSigningBytes(t *testing.T) {
	r32 := func(b byte) string { return strings.Repeat(string([]byte{b}), 32) }
	env := docsync.Envelope{Doc: fill(1), Author: fill(2), Counter: 3, Parent: 0x0102, ParentHash: fill(4),
		Epoch: 5, Kind: docsync.KindEdit, Nonce: []byte{0xAA, 0xBB}, Body: []byte("hi"), Sig: []byte{9}}
	head := docsync.Head{Doc: fill(1), Seq: 0x0A0B, ChainHash: fill(7)}
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"envelope", env.SigningBytes(), "c2c/docsync/envelope/v1\x00" + r32(1) + r32(2) +
			"\x00\x00\x00\x00\x00\x00\x00\x03" + "\x00\x00\x00\x00\x00\x00\x01\x02" + r32(4) +
			"\x00\x00\x00\x00\x00\x00\x00\x05" + "\x01" + "\x00\x00\x00\x02\xAA\xBB" + "\x00\x00\x00\x02hi"},
		{"empty envelope fields", (&docsync.Envelope{Kind: docsync.KindMember}).SigningBytes(),
			"c2c/docsync/envelope/v1\x00" + r32(0) + r32(0) + strings.Repeat("\x00", 16) + r32(0) +
				strings.Repeat("\x00", 8) + "\x02" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00"},
		{"head", head.SigningBytes(), "c2c/docsync/head/v1\x00" + r32(1) + "\x00\x00\x00\x00\x00\x00\x0A\x0B" + r32(7)},
	}
	for _, tc := range cases {
		if !bytes.Equal(tc.got, []byte(tc.want)) {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, hex.EncodeToString(tc.got), hex.EncodeToString([]byte(tc.want)))
		}
	}
	// The chain: h(0) = SHA-256(tag || doc); h(s) = SHA-256(h(s-1) || H(envelope)),
	// H(envelope) = SHA-256(signing bytes || len32(sig) || sig).
	h0 := sha256.Sum256(append([]byte("c2c/docsync/chain/v1\x00"), env.Doc[:]...))
	if docsync.GenesisHash(env.Doc) != h0 {
		t.Error("genesis hash")
	}
	d := sha256.Sum256(append(env.SigningBytes(), 0, 0, 0, 1, 9))
	if env.Digest() != d {
		t.Error("envelope digest")
	}
	h1 := sha256.Sum256(append(h0[:], d[:]...))
	if docsync.ChainHash(h0, d) != h1 {
		t.Error("chain hash")
	}
}

// TestCodecRoundTrip checks each encoder against its decoder.
func TestCodecRoundTrip(t *testing.T) {
	w, a, _, _ := threeMembers(t)
	_ = w.insert(a, 0, "x")
	w.settle()
	for _, e := range a.entries {
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := docsync.DecodeEntry(b)
		if err != nil {
			t.Fatalf("seq %d: %v", e.Head.Seq, err)
		}
		if got.Head.ChainHash != e.Head.ChainHash || got.Envelope.Digest() != e.Envelope.Digest() {
			t.Fatalf("seq %d: round trip changed the entry", e.Head.Seq)
		}
		if e.Envelope.Kind == docsync.KindMember {
			if _, err := docsync.DecodeMemberOp(e.Envelope.Body); err != nil {
				t.Fatalf("seq %d member op: %v", e.Head.Seq, err)
			}
		}
		eb, _ := e.Envelope.Marshal()
		if env, err := docsync.DecodeEnvelope(eb); err != nil || env.Digest() != e.Envelope.Digest() {
			t.Fatalf("envelope round trip: %v", err)
		}
		hb, _ := e.Head.Marshal()
		if h, err := docsync.DecodeHead(hb); err != nil || h.ChainHash != e.Head.ChainHash {
			t.Fatalf("head round trip: %v", err)
		}
	}
	if _, err := docsync.DecodeEntry(make([]byte, docsync.MaxEntryBytes+1)); err == nil {
		t.Fatal("oversized entry decoded")
	}
}

func TestIdentityPersists(t *testing.T) {
	id, err := docsync.NewIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := id.KEMPrivateBytes()
	if err != nil {
		t.Fatal(err)
	}
	id2, err := docsync.IdentityFromKeys(id.Sign, kb)
	if err != nil {
		t.Fatal(err)
	}
	if id2.ID() != id.ID() || !bytes.Equal(id2.HPKEPublic(), id.HPKEPublic()) {
		t.Fatal("restored identity differs")
	}
	if _, err := docsync.IdentityFromKeys(id.Sign, kb[:5]); err == nil {
		t.Fatal("short hpke key accepted")
	}
}

// VerifyAuthor skips only the bytes it verified (or Sign made with the
// author's key) unchanged: a changed body, a changed signature, or a
// signature made with another key than the author's is verified, and fails.
func TestVerifyAuthorOnlySkipsWhatItChecked(t *testing.T) {
	id, err := docsync.NewIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	env := docsync.Envelope{Doc: fill(1), Author: id.ID(), Counter: 1, Kind: docsync.KindEdit, Nonce: make([]byte, docsync.NonceSize), Body: []byte("hi")}
	env.Sign(id.Sign)
	if err := env.VerifyAuthor(); err != nil {
		t.Fatal(err)
	}
	env.Body = []byte("ho")
	if err := env.VerifyAuthor(); !errors.Is(err, docsync.ErrAuthorSignature) {
		t.Fatalf("changed body: %v, want ErrAuthorSignature", err)
	}
	env.Body = []byte("hi")
	if err := env.VerifyAuthor(); err != nil {
		t.Fatalf("restored body: %v", err)
	}
	env.Sig = append([]byte(nil), env.Sig...)
	env.Sig[0] ^= 1
	if err := env.VerifyAuthor(); !errors.Is(err, docsync.ErrAuthorSignature) {
		t.Fatalf("changed signature: %v, want ErrAuthorSignature", err)
	}
	other, err := docsync.NewIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	env.Sign(other.Sign) // forged: the author is id
	if err := env.VerifyAuthor(); !errors.Is(err, docsync.ErrAuthorSignature) {
		t.Fatalf("signed with another key: %v, want ErrAuthorSignature", err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := docsync.DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.VerifyAuthor(); !errors.Is(err, docsync.ErrAuthorSignature) {
		t.Fatalf("decoded forgery: %v, want ErrAuthorSignature", err)
	}
}
