package sigcache

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"testing/quick"
)

func keypair(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestVerifyCachesOnlySuccesses(t *testing.T) {
	pub, priv := keypair(t)
	c := New(8)
	msg := []byte("head 1")
	sig := ed25519.Sign(priv, msg)
	if !c.Verify(pub, msg, sig) || !c.Verify(pub, msg, sig) {
		t.Fatal("a valid signature did not verify")
	}
	if h, m := c.Stats(); h != 1 || m != 1 {
		t.Fatalf("hits %d misses %d, want 1 and 1", h, m)
	}
	bad := append([]byte(nil), sig...)
	bad[0] ^= 1
	for range 2 {
		if c.Verify(pub, msg, bad) {
			t.Fatal("a tampered signature verified")
		}
	}
	if h, m := c.Stats(); h != 1 || m != 3 {
		t.Fatalf("after two failures: hits %d misses %d, want 1 and 3 (failures are not kept)", h, m)
	}
	if c.Verify(pub, []byte("head 2"), sig) {
		t.Fatal("a signature verified for another message")
	}
	other, _ := keypair(t)
	if c.Verify(other, msg, sig) {
		t.Fatal("a signature verified for another key")
	}
}

func TestVerifyRefusesWrongSizes(t *testing.T) {
	pub, priv := keypair(t)
	sig := ed25519.Sign(priv, []byte("m"))
	c := New(4)
	if c.Verify(pub[:31], []byte("m"), sig) || c.Verify(pub, []byte("m"), sig[:63]) || c.Verify(nil, nil, nil) {
		t.Fatal("a key or signature of the wrong size verified")
	}
}

func TestCacheIsBounded(t *testing.T) {
	pub, priv := keypair(t)
	c := New(3)
	msgs := [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d")}
	for _, m := range msgs {
		if !c.Verify(pub, m, ed25519.Sign(priv, m)) {
			t.Fatal("valid signature refused")
		}
	}
	if len(c.seen) != 3 {
		t.Fatalf("%d signatures kept, want the capacity 3", len(c.seen))
	}
	// "a" was the oldest: it is verified again, "d" is not.
	_, m0 := c.Stats()
	c.Verify(pub, msgs[3], ed25519.Sign(priv, msgs[3]))
	if _, m := c.Stats(); m != m0 {
		t.Fatal("the newest signature was verified again")
	}
	c.Verify(pub, msgs[0], ed25519.Sign(priv, msgs[0]))
	if _, m := c.Stats(); m != m0+1 {
		t.Fatal("the evicted signature was not verified again")
	}
}

// The cache answers as ed25519.Verify does, whatever the inputs.
func TestVerifyMatchesEd25519(t *testing.T) {
	pub, priv := keypair(t)
	c := New(16)
	f := func(msg []byte, flip uint8, tamper bool) bool {
		sig := ed25519.Sign(priv, msg)
		if tamper {
			sig[int(flip)%len(sig)] ^= 1 << (flip % 8)
		}
		want := ed25519.Verify(pub, msg, sig)
		return c.Verify(pub, msg, sig) == want && c.Verify(pub, msg, sig) == want
	}
	if err := quick.Check(f, nil); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkVerify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 512)
	sig := ed25519.Sign(priv, msg)
	b.Run("ed25519", func(b *testing.B) {
		for b.Loop() {
			ed25519.Verify(pub, msg, sig)
		}
	})
	b.Run("cached", func(b *testing.B) {
		c := New(DefaultSize)
		for b.Loop() {
			c.Verify(pub, msg, sig)
		}
	})
}
