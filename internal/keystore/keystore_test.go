package keystore

import (
	"crypto/hpke"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
)

func generateHPKE() ([]byte, []byte, error) {
	k, err := hpke.MLKEM768X25519().GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	priv, err := k.Bytes()
	if err != nil {
		return nil, nil, err
	}
	return priv, k.PublicKey().Bytes(), nil
}

func TestPrivKeyCreatedOnceWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "identity.key")
	k1, created, err := LoadOrCreatePrivKey(path)
	if err != nil || !created {
		t.Fatalf("first load: created=%v err=%v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	dst, _ := os.Stat(filepath.Dir(path))
	if dst.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, want 0700", dst.Mode().Perm())
	}
	k2, created, err := LoadOrCreatePrivKey(path)
	if err != nil || created {
		t.Fatalf("second load: created=%v err=%v", created, err)
	}
	if !k1.Equals(k2) {
		t.Fatal("reloaded key differs")
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadPrivKey(filepath.Join(dir, "missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	garbage := filepath.Join(dir, "garbage")
	if err := WriteFile(garbage, []byte("not a key")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPrivKey(garbage); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
	if _, _, err := ReadHPKEKey(garbage); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage hpke: %v", err)
	}
	if _, _, err := LoadOrCreatePrivKey(garbage); !errors.Is(err, ErrMalformed) {
		t.Fatalf("LoadOrCreate must not overwrite a corrupt key: %v", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("big: %v", err)
	}
}

func TestHPKEKeyRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hpke.key")
	priv1, pub1, created, err := LoadOrCreateHPKEKey(path, generateHPKE)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	priv2, pub2, created, err := LoadOrCreateHPKEKey(path, generateHPKE)
	if err != nil || created {
		t.Fatalf("reload: %v %v", created, err)
	}
	if string(priv1) != string(priv2) || string(pub1) != string(pub2) {
		t.Fatal("reloaded hpke key differs")
	}
	// The public key must really belong to the private key: seal to it, open with it.
	pk, err := hpke.MLKEM768X25519().NewPublicKey(pub2)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte("info"), []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	sk, err := hpke.MLKEM768X25519().NewPrivateKey(priv2)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := hpke.Open(sk, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte("info"), ct)
	if err != nil || string(pt) != "hello" {
		t.Fatalf("open: %q %v", pt, err)
	}
}

func FuzzDecodePrivKey(f *testing.F) {
	k, _, err := LoadOrCreatePrivKey(filepath.Join(f.TempDir(), "k"))
	if err != nil {
		f.Fatal(err)
	}
	b, _ := crypto.MarshalPrivateKey(k)
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01, 0x12, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodePrivKey(b)
		if err == nil && k == nil {
			t.Fatal("nil key without error")
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

func FuzzDecodeHPKEPrivKey(f *testing.F) {
	priv, _, err := generateHPKE()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(priv)
	f.Add([]byte{})
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, pub, err := DecodeHPKEPrivKey(b)
		if err == nil && len(pub) == 0 {
			t.Fatal("empty public key without error")
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
