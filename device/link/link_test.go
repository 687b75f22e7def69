package link

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func samples(t testing.TB) []*Message {
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	user, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	op, _ := ot.FromPatch(3, 1, 1, "hé")
	snap := "snapshot ✓"
	h := &Hello{User: user, Device: "phone", State: jupiter.Hello{Epoch: 7, Version: 42, Buffered: true,
		Inflight: &jupiter.Edit{Counter: 3, Base: 42, Op: op}}}
	h.Doc[0], h.Doc[31] = 1, 2
	return []*Message{
		{Kind: KindHello, Hello: h},
		{Kind: KindHello, Hello: &Hello{User: user, Device: ""}},
		{Kind: KindEdit, Edit: &jupiter.Edit{Counter: 1, Base: 0, Op: op}},
		{Kind: KindBundle, Bundle: &jupiter.Bundle{Epoch: 1, From: 2, To: 3, Op: op}},
		{Kind: KindBundle, Bundle: &jupiter.Bundle{Epoch: 1, From: 2, To: 3, Snapshot: &snap}},
		{Kind: KindBundle, Bundle: &jupiter.Bundle{Epoch: 1, From: 2, To: 3, Snapshot: &snap, Unapplied: true}},
		{Kind: KindOp, Op: &op},
		{Kind: KindAck, Ack: 99},
		{Kind: KindRefuse, Code: RefuseWrongKey, Reason: "wrong key"},
		{Kind: KindAlarm, Alarm: AlarmStalled, Reason: "no entry for a submitted envelope"},
		{Kind: KindSelection, Version: 12, Sel: Selection{Anchor: 3, Head: 7}},
		{Kind: KindPresence, Version: 12},
		{Kind: KindPresence, Version: 12, Peers: []PeerPresence{
			{Member: docsync.MemberID{1, 2}, Name: "alice", Device: "phone", Sel: Selection{Anchor: 5, Head: 5}, AgeMS: 1500},
			{Member: docsync.MemberID{3}, Name: "bö", Device: "", Sel: Selection{Anchor: 9, Head: 2}}}},
		{Kind: KindMembers, Members: []MemberInfo{{Member: docsync.MemberID{1, 2}, Role: docsync.RoleAdmin, Self: true},
			{Member: docsync.MemberID{3}, Role: docsync.RoleReader}}},
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	ms := samples(t)
	total := 0
	for _, m := range ms {
		n, err := WriteMessage(&buf, m)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != buf.Len() {
		t.Fatalf("counted %d bytes, wrote %d", total, buf.Len())
	}
	r := bufio.NewReader(&buf)
	for _, want := range ms {
		got, _, err := ReadMessage(r, DefaultMaxFrame)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Fatalf("got %+v want %+v", got, want)
		}
	}
}

// normalize re-encodes, so that ops compare by encoding.
func normalize(m *Message) string {
	b, _ := Encode(m)
	return string(b)
}

func TestFrameLimit(t *testing.T) {
	var buf bytes.Buffer
	snap := string(make([]byte, 1000))
	if _, err := WriteMessage(&buf, &Message{Kind: KindBundle, Bundle: &jupiter.Bundle{Snapshot: &snap}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadMessage(bufio.NewReader(&buf), 100); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range samples(f) {
		b, _ := Encode(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
	})
}

// FuzzReadHello feeds arbitrary bytes to the pre-authentication reader as
// the device server runs it (ReadMessage under MaxHelloFrame): no panic,
// nothing over the cap accepted, and what it reads re-encodes.
func FuzzReadHello(f *testing.F) {
	for _, m := range samples(f) {
		var buf bytes.Buffer
		if _, err := WriteMessage(&buf, m); err == nil {
			f.Add(buf.Bytes())
		}
	}
	f.Add(binary.AppendUvarint(nil, 16<<20))
	f.Add(binary.AppendUvarint(nil, MaxHelloFrame))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, n, err := ReadMessage(bufio.NewReader(bytes.NewReader(b)), MaxHelloFrame)
		if err != nil {
			return
		}
		if n > MaxHelloFrame+binary.MaxVarintLen64 {
			t.Fatalf("read a %d-byte frame under a %d cap", n, MaxHelloFrame)
		}
		if _, err := Encode(m); err != nil {
			t.Fatalf("a message read does not encode: %v", err)
		}
	})
}

// TestPresenceLimits: a presence message announcing more peers than it
// carries, too many peers, a long name or a position out of range is
// refused; a long name is cut on encoding.
func TestPresenceLimits(t *testing.T) {
	for name, b := range map[string][]byte{
		"count past the bytes": {byte(KindPresence), 0, 5},
		"too many peers":       append([]byte{byte(KindPresence), 0}, binary.AppendUvarint(nil, MaxPresencePeers+1)...),
		"position":             append(append([]byte{byte(KindSelection), 0}, binary.AppendUvarint(nil, MaxPosition)...), 0),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	long := string(bytes.Repeat([]byte("é"), MaxPeerName))
	b, err := Encode(&Message{Kind: KindPresence, Peers: []PeerPresence{{Name: long}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Peers[0].Name; len(got) > MaxPeerName || got != long[:MaxPeerName] {
		t.Fatalf("name cut to %d bytes: %q", len(got), got)
	}
}
