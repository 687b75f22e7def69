package dht

import (
	"crypto/hpke"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// t0 is the fixed "now" of the pure tests.
var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return t0 }

// seededKey derives a deterministic Ed25519 key from seed.
func seededKey(t testing.TB, seed uint64) crypto.PrivKey {
	t.Helper()
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	priv, _, err := crypto.GenerateEd25519Key(rand.NewChaCha8(s))
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func seededID(t testing.TB, seed uint64) peer.ID {
	t.Helper()
	id, err := peer.IDFromPrivateKey(seededKey(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// seededHPKE derives a deterministic clone HPKE public key.
func seededHPKE(t testing.TB, seed uint64) []byte {
	t.Helper()
	ikm := make([]byte, 32)
	ikm[0], ikm[1] = byte(seed), byte(seed>>8)
	k, err := hpke.MLKEM768X25519().DeriveKeyPair(ikm)
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey().Bytes()
}

// testCert signs a certificate for device with the given user key.
func testCert(t testing.TB, user crypto.PrivKey, device string, seq uint64, eol time.Time) *OwnerCert {
	t.Helper()
	c, err := SignOwnerCert(user, OwnerCert{
		Device:    device,
		DeviceKey: seededID(t, 1000),
		Clone:     seededID(t, 2000),
		CloneHPKE: seededHPKE(t, 1),
		Addrs:     []ma.Multiaddr{ma.StringCast("/ip4/10.0.0.1/udp/4001/quic-v1")},
		Seq:       seq,
		EOL:       eol,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustMarshal(t testing.TB, m interface{ Marshal() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
