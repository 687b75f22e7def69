package cloneservice

import (
	"bytes"
	"testing"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The document identity built from node's keys has the clone's peer key as
// MemberID and the HPKE public key of its owner certificate.
func TestIdentityFromNodeKeys(t *testing.T) {
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	priv, pub, err := dht.GenerateHPKEKey()
	if err != nil {
		t.Fatal(err)
	}
	id, err := IdentityFromKeys(k, priv)
	if err != nil {
		t.Fatal(err)
	}
	self, _ := peer.IDFromPrivateKey(k)
	m, _ := netproto.MemberOf(self)
	if id.ID() != m {
		t.Fatal("MemberID is not the clone's peer key")
	}
	if !bytes.Equal(id.HPKEPublic(), pub) {
		t.Fatal("HPKE public key differs from the one node puts in the owner certificate")
	}
	if _, err := IdentityFromKeys(k, []byte("short")); err == nil {
		t.Fatal("accepted a malformed HPKE key")
	}
}
