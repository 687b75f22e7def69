package docsync_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

func signedWaitClaim(t testing.TB) (*docsync.WaitClaim, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(bytes.NewReader(make([]byte, 64)))
	if err != nil {
		t.Fatal(err)
	}
	w := &docsync.WaitClaim{Doc: docsync.DocID{1}, Counter: 7, Seq: 41, At: 1700000000000}
	w.Sign(priv)
	b, err := w.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return w, b
}

func TestWaitClaimRoundTripAndTamper(t *testing.T) {
	w, b := signedWaitClaim(t)
	if len(b) != docsync.WaitClaimBytes || !docsync.IsWaitClaim(b) || docsync.IsEvidence(b) {
		t.Fatalf("encoding: %d bytes", len(b))
	}
	got, err := docsync.DecodeWaitClaim(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Doc != w.Doc || got.Member != w.Member || got.Counter != 7 || got.Seq != 41 || got.At != w.At {
		t.Fatalf("decoded %+v", got)
	}
	if err := got.Verify(); err != nil {
		t.Fatal(err)
	}
	// Every byte after the magic is signed: flipping any one fails.
	for i := len(b) - docsync.WaitClaimBytes + len("c2c-waiting/1\n"); i < len(b); i++ {
		bad := bytes.Clone(b)
		bad[i] ^= 1
		c, err := docsync.DecodeWaitClaim(bad)
		if err == nil {
			err = c.Verify()
		}
		if err == nil {
			t.Fatalf("byte %d flipped: still verifies", i)
		}
	}
	for _, bad := range [][]byte{nil, b[:len(b)-1], append(bytes.Clone(b), 0)} {
		if _, err := docsync.DecodeWaitClaim(bad); !errors.Is(err, docsync.ErrMalformed) {
			t.Fatalf("%d bytes: %v", len(bad), err)
		}
	}
}

func FuzzDecodeWaitClaim(f *testing.F) {
	_, b := signedWaitClaim(f)
	f.Add(b)
	f.Add(b[:20])
	f.Add([]byte("c2c-waiting/1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := docsync.DecodeWaitClaim(b)
		if err != nil {
			decodeErr(t, err)
			return
		}
		_ = w.Verify()
		b2, err := w.Marshal()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("re-encode differs: %v", err)
		}
	})
}
