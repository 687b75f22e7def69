package dht

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestOwnerCertRoundTrip(t *testing.T) {
	user := seededKey(t, 1)
	c := testCert(t, user, "phone", 7, t0.Add(time.Hour))
	raw := mustMarshal(t, c)
	got, err := UnmarshalOwnerCert(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(t0); err != nil {
		t.Fatal(err)
	}
	if got.User != seededID(t, 1) || got.Signer != got.User || got.Device != "phone" || got.Seq != 7 ||
		!got.EOL.Equal(c.EOL) || got.Clone != c.Clone || !bytes.Equal(got.CloneHPKE, c.CloneHPKE) ||
		len(got.Addrs) != 1 || !got.Addrs[0].Equal(c.Addrs[0]) {
		t.Fatalf("round trip changed the cert: %+v", got)
	}
	if again := mustMarshal(t, got); !bytes.Equal(again, raw) {
		t.Fatal("re-encoding is not byte-identical")
	}
	if got.Key() != CertKey(got.User, "phone") {
		t.Fatalf("key %q", got.Key())
	}
}

// TestOwnerCertLayout pins the canonical, domain-separated layout.
func TestOwnerCertLayout(t *testing.T) {
	c := testCert(t, seededKey(t, 1), "phone", 7, t0.Add(time.Hour))
	raw := mustMarshal(t, c)
	want := append([]byte{0, byte(len(certDomain))}, certDomain...)
	want = binary.BigEndian.AppendUint16(want, uint16(len(c.User)))
	want = append(want, c.User...)
	if !bytes.HasPrefix(raw, want) {
		t.Fatalf("prefix %x, want %x", raw[:len(want)], want)
	}
	tail := raw[len(raw)-2-64-16:]
	if binary.BigEndian.Uint64(tail) != 7 || int64(binary.BigEndian.Uint64(tail[8:])) != c.EOL.UnixNano() ||
		binary.BigEndian.Uint16(tail[16:]) != 64 {
		t.Fatalf("tail %x", tail)
	}
	// Same inputs, same bytes (Ed25519 signatures are deterministic).
	if again := mustMarshal(t, testCert(t, seededKey(t, 1), "phone", 7, t0.Add(time.Hour))); !bytes.Equal(again, raw) {
		t.Fatal("encoding is not deterministic")
	}
}

func TestDeviceIndexRoundTrip(t *testing.T) {
	idx, err := SignDeviceIndex(seededKey(t, 1), DeviceIndex{Devices: []string{"tablet", "phone"}, Seq: 3, EOL: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(idx.Devices, []string{"phone", "tablet"}) {
		t.Fatalf("devices not sorted: %v", idx.Devices)
	}
	raw := mustMarshal(t, idx)
	got, err := UnmarshalDeviceIndex(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(t0); err != nil {
		t.Fatal(err)
	}
	if got.Key() != IndexKey(seededID(t, 1)) || got.Seq != 3 || !slices.Equal(got.Devices, idx.Devices) {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := SignDeviceIndex(seededKey(t, 1), DeviceIndex{Devices: []string{"a", "a"}, EOL: t0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("duplicate devices: %v", err)
	}
}

func TestSignRejectsBadFields(t *testing.T) {
	user := seededKey(t, 1)
	good := *testCert(t, user, "phone", 1, t0.Add(time.Hour))
	for name, mutate := range map[string]func(*OwnerCert){
		"device uppercase": func(c *OwnerCert) { c.Device = "Phone" },
		"device slash":     func(c *OwnerCert) { c.Device = "a/b" },
		"device too long":  func(c *OwnerCert) { c.Device = string(bytes.Repeat([]byte("a"), 65)) },
		"no hpke":          func(c *OwnerCert) { c.CloneHPKE = nil },
		"bad hpke":         func(c *OwnerCert) { c.CloneHPKE = bytes.Repeat([]byte{0xff}, 1216) },
		"short hpke":       func(c *OwnerCert) { c.CloneHPKE = make([]byte, 1215) },
		"no clone":         func(c *OwnerCert) { c.Clone = "" },
		"zero eol":         func(c *OwnerCert) { c.EOL = time.Time{} },
	} {
		c := good
		mutate(&c)
		if _, err := SignOwnerCert(user, c); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestHPKEKeyHelpers(t *testing.T) {
	priv, pub, err := GenerateHPKEKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseHPKEPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.PublicKey().Bytes(), pub) {
		t.Fatal("private key does not match public key")
	}
	if _, err := ParseHPKEPublicKey(pub[:100]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short key: %v", err)
	}
}

func TestKeys(t *testing.T) {
	u := seededID(t, 1)
	for _, tc := range []struct {
		key  string
		want error
	}{
		{CertKey(u, "phone"), nil},
		{IndexKey(u), nil},
		{"/c2c/cert/" + u.String(), ErrMalformed},
		{"/c2c/cert/" + u.String() + "/Phone", ErrMalformed},
		{"/c2c/other/" + u.String(), ErrMalformed},
		{"/c2c/index/notapeer", ErrMalformed},
		{"/pk/" + u.String(), ErrMalformed},
	} {
		if _, err := parseKey(tc.key); !errors.Is(err, tc.want) {
			t.Errorf("parseKey(%q) = %v, want %v", tc.key, err, tc.want)
		}
	}
}
