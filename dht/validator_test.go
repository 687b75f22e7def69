package dht

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

// TestValidatorRejectsBadInput: each kind of bad record is refused with its
// own sentinel, and the sentinels are pairwise distinct.
func TestValidatorRejectsBadInput(t *testing.T) {
	alice, mallory := seededKey(t, 1), seededKey(t, 2)
	v := newValidator(fixedClock)
	good := testCert(t, alice, "phone", 5, t0.Add(time.Hour))
	goodRaw := mustMarshal(t, good)
	key := good.Key()
	if err := v.Validate(key, goodRaw); err != nil {
		t.Fatalf("good record rejected: %v", err)
	}

	forged := bytes.Clone(goodRaw)
	forged[len(forged)-1] ^= 1 // flip a signature bit

	tampered := *good // change a signed field, keep the old signature
	tampered.Clone = seededID(t, 3000)

	unsigned := *good
	unsigned.Sig = nil

	// Mallory signs a record that names Alice as its user.
	wrongSigner, err := signCertAs(mallory, OwnerCert{User: good.User, Device: "phone", DeviceKey: good.DeviceKey,
		Clone: seededID(t, 3000), CloneHPKE: good.CloneHPKE, Seq: 99, EOL: good.EOL})
	if err != nil {
		t.Fatal(err)
	}
	// Mallory's own, valid record, published under Alice's key.
	malloryOwn := testCert(t, mallory, "phone", 99, t0.Add(time.Hour))

	expired := testCert(t, alice, "phone", 6, t0)
	oversized := append(bytes.Clone(goodRaw), make([]byte, MaxRecordSize)...)

	cases := []struct {
		name string
		key  string
		raw  []byte
		want error
	}{
		{"forged signature", key, forged, ErrBadSignature},
		{"tampered body", key, mustMarshal(t, &tampered), ErrBadSignature},
		{"missing signature", key, mustMarshal(t, &unsigned), ErrBadSignature},
		{"signed by another user's key", key, mustMarshal(t, wrongSigner), ErrWrongSigner},
		{"another user's record under this key", key, mustMarshal(t, malloryOwn), ErrKeyMismatch},
		{"other device's key", CertKey(good.User, "tablet"), goodRaw, ErrKeyMismatch},
		{"expired", key, mustMarshal(t, expired), ErrExpired},
		{"oversized", key, oversized, ErrTooLarge},
		{"truncated", key, goodRaw[:len(goodRaw)-10], ErrMalformed},
		{"trailing bytes", key, append(bytes.Clone(goodRaw), 0), ErrMalformed},
		{"garbage", key, []byte("definitely not a record"), ErrMalformed},
		{"empty", key, nil, ErrMalformed},
		{"index bytes under a cert key", key, mustMarshal(t, testIndex(t, 1)), ErrMalformed},
		{"bad key", "/c2c/cert/x/phone", goodRaw, ErrMalformed},
	}
	for _, tc := range cases {
		err := v.Validate(tc.key, tc.raw)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}

	// A replayed lower seq: the store (and CheckUpdate) refuse it.
	newer := mustMarshal(t, testCert(t, alice, "phone", 6, t0.Add(time.Hour)))
	if err := v.CheckUpdate(key, newer, goodRaw); !errors.Is(err, ErrStaleSeq) {
		t.Errorf("replayed lower seq: CheckUpdate got %v, want ErrStaleSeq", err)
	}
	st, err := openStore(context.Background(), dssync.MutexWrap(ds.NewMapDatastore()), v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.put(context.Background(), key, newer, false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.put(context.Background(), key, goodRaw, false); !errors.Is(err, ErrStaleSeq) {
		t.Errorf("replayed lower seq: store got %v, want ErrStaleSeq", err)
	}
	if changed, err := st.put(context.Background(), key, newer, false); err != nil || changed {
		t.Errorf("identical record: changed=%v err=%v, want a no-op", changed, err)
	}

	sentinels := []error{ErrBadSignature, ErrWrongSigner, ErrKeyMismatch, ErrExpired, ErrTooLarge, ErrMalformed, ErrStaleSeq}
	for i, a := range sentinels {
		for _, b := range sentinels[i+1:] {
			if errors.Is(a, b) || errors.Is(b, a) {
				t.Errorf("sentinels %v and %v are not distinct", a, b)
			}
		}
	}
}

func testIndex(t testing.TB, seq uint64) *DeviceIndex {
	t.Helper()
	k := seededKey(t, 1)
	idx, err := SignDeviceIndex(k, DeviceIndex{Devices: []string{"phone"}, Seq: seq, EOL: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestValidatorIndex(t *testing.T) {
	v := newValidator(fixedClock)
	idx := testIndex(t, 1)
	raw := mustMarshal(t, idx)
	if err := v.Validate(idx.Key(), raw); err != nil {
		t.Fatal(err)
	}
	forged := bytes.Clone(raw)
	forged[len(forged)-5] ^= 1
	if err := v.Validate(idx.Key(), forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged index: %v", err)
	}
	if err := v.Validate(IndexKey(seededID(t, 2)), raw); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("index under another user: %v", err)
	}
}

func TestSelect(t *testing.T) {
	alice := seededKey(t, 1)
	v := newValidator(fixedClock)
	key := CertKey(seededID(t, 1), "phone")
	seq1 := mustMarshal(t, testCert(t, alice, "phone", 1, t0.Add(time.Hour)))
	seq2 := mustMarshal(t, testCert(t, alice, "phone", 2, t0.Add(time.Hour)))
	seq2later := mustMarshal(t, testCert(t, alice, "phone", 2, t0.Add(2*time.Hour)))
	for _, tc := range []struct {
		name string
		vals [][]byte
		want int
	}{
		{"higher seq wins", [][]byte{seq1, seq2}, 1},
		{"higher seq wins, reversed", [][]byte{seq2, seq1}, 0},
		{"later EOL breaks a seq tie", [][]byte{seq2later, seq2, seq1}, 0},
		{"later EOL breaks a seq tie, reversed", [][]byte{seq1, seq2, seq2later}, 2},
		{"equal values give 0", [][]byte{seq2, seq2, seq2}, 0},
		{"undecodable values lose", [][]byte{[]byte("junk"), seq1}, 1},
	} {
		got, err := v.Select(key, tc.vals)
		if err != nil || got != tc.want {
			t.Errorf("%s: Select = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	if _, err := v.Select(key, [][]byte{[]byte("junk")}); !errors.Is(err, ErrMalformed) {
		t.Errorf("all junk: %v", err)
	}
	// Same seq and EOL, different bytes: the larger bytes win either way.
	a := mustMarshal(t, testCert(t, alice, "phone", 3, t0.Add(time.Hour)))
	other := *testCert(t, alice, "phone", 3, t0.Add(time.Hour))
	other.Device = "phone"
	other.Clone = seededID(t, 4000)
	bc, err := SignOwnerCert(alice, other)
	if err != nil {
		t.Fatal(err)
	}
	b := mustMarshal(t, bc)
	i, _ := v.Select(key, [][]byte{a, b})
	j, _ := v.Select(key, [][]byte{b, a})
	if i == j || (i == 0) != (bytes.Compare(a, b) > 0) {
		t.Errorf("byte tie-break not deterministic: %d %d", i, j)
	}
}
