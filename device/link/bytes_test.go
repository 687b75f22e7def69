package link

import (
	"encoding/hex"
	"testing"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestEncodingBytes pins every message kind's exact bytes: a codec change
// that moves a byte is a wire change (and a Protocol bump).
func TestEncodingBytes(t *testing.T) {
	// An identity multihash of 4 bytes is a valid peer ID.
	user := peer.ID([]byte{0x00, 0x04, 'u', 's', 'e', 'r'})
	op, err := ot.FromPatch(3, 1, 1, "hé")
	if err != nil {
		t.Fatal(err)
	}
	snap := "snap ✓"
	h := &Hello{User: user, Device: "phone", State: jupiter.Hello{Epoch: 7, Version: 300, Buffered: true,
		Inflight: &jupiter.Edit{Counter: 3, Base: 42, Op: op}}}
	h.Doc[0], h.Doc[31] = 1, 2
	var author docsync.MemberID
	author[0], author[31] = 0xaa, 0xbb
	for _, c := range []struct {
		m    *Message
		want string
	}{
		{&Message{Kind: KindHello, Hello: h}, "01060004757365720570686f6e65010000000000000000000000000000000000000000000000000000000000000207ac0203032a090104050e68c3a90705"},
		{&Message{Kind: KindHello, Hello: &Hello{User: user}}, "0106000475736572000000000000000000000000000000000000000000000000000000000000000000000000"},
		{&Message{Kind: KindEdit, Edit: &jupiter.Edit{Counter: 1, Base: 0, Op: op}}, "020100090104050e68c3a90705"},
		{&Message{Kind: KindBundle, Bundle: &jupiter.Bundle{Epoch: 1, From: 2, To: 3, Op: op}}, "0301020300090104050e68c3a90705"},
		{&Message{Kind: KindBundle, Bundle: &jupiter.Bundle{Epoch: 1, From: 2, To: 3, Snapshot: &snap}}, "030102030108736e617020e29c93"},
		{&Message{Kind: KindBundle, Bundle: &jupiter.Bundle{Epoch: 1, From: 2, To: 3, Snapshot: &snap, Unapplied: true}}, "030102030208736e617020e29c93"},
		// 2.0.0: the seq (a uvarint) and the author (32 bytes) before the op.
		{&Message{Kind: KindOp, Op: &op, Seq: 300, Author: author}, "04ac02aa000000000000000000000000000000000000000000000000000000000000bb0104050e68c3a90705"},
		{&Message{Kind: KindOp, Op: &op}, "040000000000000000000000000000000000000000000000000000000000000000000104050e68c3a90705"},
		{&Message{Kind: KindAck, Ack: 200}, "05c801"},
		{&Message{Kind: KindRefuse, Code: RefuseUnknownDoc, Reason: "no doc"}, "0604066e6f20646f63"},
		{&Message{Kind: KindAlarm, Alarm: AlarmResumed, Reason: "ok"}, "0702026f6b"},
		// 2.2.0: presence.
		{&Message{Kind: KindSelection, Version: 300, Sel: Selection{Anchor: 3, Head: 200}}, "08ac0203c801"},
		{&Message{Kind: KindPresence, Version: 2, Peers: []PeerPresence{{Member: author, Name: "al", Device: "ph", Sel: Selection{Anchor: 1, Head: 1}, AgeMS: 300}}},
			"090201aa000000000000000000000000000000000000000000000000000000000000bb02616c0270680101ac02"},
		// Kind 10: the member list.
		{&Message{Kind: KindMembers, Members: []MemberInfo{{Member: author, Role: docsync.RoleWriter, Self: true}}},
			"0a01aa000000000000000000000000000000000000000000000000000000000000bb0201"},
	} {
		b, err := Encode(c.m)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != c.want {
			t.Errorf("kind %d: got\n%s\nwant\n%s", c.m.Kind, got, c.want)
			continue
		}
		m, err := Decode(b)
		if err != nil {
			t.Fatalf("kind %d: %v", c.m.Kind, err)
		}
		if again, _ := Encode(m); string(again) != string(b) {
			t.Errorf("kind %d: decode and encode again differ", c.m.Kind)
		}
	}
}
