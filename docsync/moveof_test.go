package docsync_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/clone2clone/c2c/docsync"
)

// FuzzMoveOf checks that MoveOf, which reads only the type field before
// it decodes, finds exactly the bodies DecodeMemberOp decodes to a move.
func FuzzMoveOf(f *testing.F) {
	var member docsync.MemberID
	member[0] = 1
	seq := make([]byte, 32)
	for _, op := range []*docsync.MemberOp{
		{Type: docsync.OpMove, Member: member, Sequencer: seq, SequencerAddr: "/ip4/1.2.3.4/udp/1/quic-v1"},
		{Type: docsync.OpMove, Member: member, Sequencer: seq, Takeover: true},
		{Type: docsync.OpChangeRole, Member: member, Role: docsync.RoleWriter},
		{Type: docsync.OpMove, Member: member, Sequencer: seq[:31]},
	} {
		b, err := op.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		// A second type field overrides the first, as in proto.
		f.Add(protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), 2))
		f.Add(protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), 5+256))
	}
	f.Add([]byte{0x08})
	f.Add([]byte{0x08, 0x05, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		env := &docsync.Envelope{Kind: docsync.KindMember, Body: b}
		op, ok := docsync.MoveOf(env)
		full, err := docsync.DecodeMemberOp(b)
		want := err == nil && full.Type == docsync.OpMove
		if ok != want {
			t.Fatalf("MoveOf says %v, a full decode %v (err %v)", ok, want, err)
		}
		if ok && (op.Member != full.Member || string(op.Sequencer) != string(full.Sequencer) || op.Takeover != full.Takeover) {
			t.Fatalf("MoveOf decoded %+v, a full decode %+v", op, full)
		}
		env.Kind = docsync.KindEdit
		if _, ok := docsync.MoveOf(env); ok {
			t.Fatal("an edit envelope is a move")
		}
	})
}
