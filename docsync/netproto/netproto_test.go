package netproto

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func TestFrameExactBytesAndCaps(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFrame(&buf, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.Bytes(), []byte{3, 'a', 'b', 'c', 0}; !bytes.Equal(got, want) {
		t.Fatalf("frames % x, want % x", got, want)
	}
	huge := binary.AppendUvarint(nil, MaxFrame+1)
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(huge)), MaxFrame); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader([]byte{5, 1})), 10); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated frame: %v", err)
	}
	if err := WriteFrame(&buf, make([]byte, MaxFrame+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("writing an oversized frame: %v", err)
	}
}

func TestReplyStatus(t *testing.T) {
	var buf bytes.Buffer
	_ = WriteReply(&buf, []byte("ok"), nil)
	_ = WriteReply(&buf, nil, errors.New("nope"))
	r := bufio.NewReader(&buf)
	if b, err := ReadReply(r, 16); err != nil || string(b) != "ok" {
		t.Fatalf("ok reply: %q %v", b, err)
	}
	if _, err := ReadReply(r, 16); !errors.Is(err, ErrRefused) {
		t.Fatalf("error reply: %v", err)
	}
}

func TestInvitationRoundTripAndChecks(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	inv := &Invitation{Doc: docsync.DocID{1, 2}, Sequencer: pub, Role: docsync.RoleReader, Seq: 42,
		Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4001")}}
	b, err := inv.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeInvitation(b)
	if err != nil || got.Doc != inv.Doc || !got.Sequencer.Equal(pub) || got.Role != inv.Role || got.Seq != 42 ||
		len(got.Addrs) != 1 || !got.Addrs[0].Equal(inv.Addrs[0]) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{9}, b[1:]...),
		"trailing":  append(append([]byte(nil), b...), 0),
		"truncated": b[:len(b)-1],
	} {
		if _, err := DecodeInvitation(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	badRole := append([]byte(nil), b...)
	badRole[65] = 9
	if _, err := DecodeInvitation(badRole); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad role: %v", err)
	}
}

func TestHistoryRequestChecks(t *testing.T) {
	r := HistoryRequest{From: 5, To: 4}
	if _, err := DecodeHistoryRequest(r.Marshal()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("reversed range: %v", err)
	}
	if _, err := DecodeHistoryRequest(HistoryRequest{From: 0, To: 4}.Marshal()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("seq 0: %v", err)
	}
}

func TestPeerKeyMapping(t *testing.T) {
	k, _, _ := crypto.GenerateEd25519Key(nil)
	id, _ := peer.IDFromPrivateKey(k)
	m, err := MemberOf(id)
	if err != nil {
		t.Fatal(err)
	}
	back, err := PeerOf(m[:])
	if err != nil || back != id {
		t.Fatalf("PeerOf(MemberOf(id)) = %s %v", back, err)
	}
	sk, err := SigningKey(k)
	if err != nil || !bytes.Equal(sk.Public().(ed25519.PublicKey), m[:]) {
		t.Fatalf("signing key does not match member: %v", err)
	}
	rsa, _, _ := crypto.GenerateECDSAKeyPair(nil)
	if _, err := SigningKey(rsa); !errors.Is(err, ErrMalformed) {
		t.Fatalf("non-Ed25519 key: %v", err)
	}
}
