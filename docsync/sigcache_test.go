package docsync

import (
	"crypto/ed25519"
	"testing"
)

// TestSigCacheKeepsOnlyWhatVerified: a cached signature passes again; the
// same signature on other bytes or under another key, and a forged one,
// are still checked and refused, and nothing refused is kept.
func TestSigCacheKeepsOnlyWhatVerified(t *testing.T) {
	c := newSigCache()
	pub, priv, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	msg := []byte("head seq 7")
	sig := ed25519.Sign(priv, msg)
	for range 2 {
		if !c.verify(pub, msg, sig) {
			t.Fatal("a good signature is refused")
		}
	}
	if n := c.len(); n != 1 {
		t.Fatalf("cache holds %d keys, want 1", n)
	}
	forged := append([]byte(nil), sig...)
	forged[0] ^= 1
	for name, refused := range map[string]bool{
		"other bytes": c.verify(pub, []byte("head seq 8"), sig),
		"other key":   c.verify(other, msg, sig),
		"forged":      c.verify(pub, msg, forged),
		"short sig":   c.verify(pub, msg, sig[:63]),
	} {
		if refused {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := c.len(); n != 1 {
		t.Fatalf("cache holds %d keys after refusals, want 1", n)
	}
}

// TestSigCacheIsBounded: a shard keeps at most two generations.
func TestSigCacheIsBounded(t *testing.T) {
	c := newSigCache()
	sh := &c.shards[0]
	for i := range 3 * sigCacheGen {
		var k sigKey
		k[1], k[2], k[3] = byte(i), byte(i>>8), byte(i>>16)
		sh.add(k)
	}
	if n := len(sh.cur) + len(sh.old); n > 2*sigCacheGen {
		t.Fatalf("shard holds %d keys, cap %d", n, 2*sigCacheGen)
	}
	var first sigKey
	if sh.has(first) {
		t.Fatal("the oldest generation was kept")
	}
}

func (c *sigCache) len() int {
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].cur) + len(c.shards[i].old)
	}
	return n
}
