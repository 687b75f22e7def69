package gossipbytes

import (
	"testing"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

func idOf(m *pb.Message) string { return m.GetTopic() + "/" + string(m.GetData()) }

func ptr(s string) *string { return &s }

// The parts add up to the bytes on the wire, and IWANT and IDONTWANT go to
// the topic of the message they name.
func TestSendRPCAddsUpToTheWire(t *testing.T) {
	c := New(idOf, DocLabel)
	heads := "/c2c/doc/00ff/heads"
	msg := &pb.Message{Topic: ptr(heads), Data: []byte("head-1")}
	send := func(r *pb.RPC) int {
		rpc := &pubsub.RPC{}
		proto.Merge(&rpc.RPC, r)
		c.SendRPC(rpc, "")
		n := proto.Size(r)
		return n + protowire.SizeVarint(uint64(n))
	}
	wire := send(&pb.RPC{
		Subscriptions: []*pb.RPC_SubOpts{{Topicid: ptr(heads)}},
		Publish:       []*pb.Message{msg},
		Control: &pb.ControlMessage{
			Ihave: []*pb.ControlIHave{{TopicID: ptr("/c2c/doc/00ff/entries"), MessageIDs: []string{"e1", "e2"}}},
			Graft: []*pb.ControlGraft{{TopicID: ptr("dir")}},
		},
	})
	wire += send(&pb.RPC{Control: &pb.ControlMessage{
		Iwant:     []*pb.ControlIWant{{MessageIDs: []string{"e1", "nobody-saw-this"}}},
		Idontwant: []*pb.ControlIDontWant{{MessageIDs: []string{idOf(msg)}}},
	}})
	got := c.Snapshot()
	var sum int64
	for _, v := range got {
		sum += v
	}
	if sum != int64(wire) {
		t.Fatalf("parts add up to %d bytes, the wire carried %d: %v", sum, wire, got)
	}
	for _, k := range []Key{
		{"doc/heads", PartSubscribe}, {"doc/heads", PartMessage}, {"doc/entries", PartIHave},
		{"dir", PartGraft}, {"doc/entries", PartIWant}, {"?", PartIWant}, {"doc/heads", PartIDontWant},
	} {
		if got[k] <= 0 {
			t.Errorf("%v: no bytes counted (%v)", k, got)
		}
	}
	if d := Diff(got, got); len(d) != 0 {
		t.Errorf("Diff of equal snapshots = %v", d)
	}
}

func TestDocLabel(t *testing.T) {
	for in, want := range map[string]string{
		"/c2c/doc/abcd/submit": "doc/submit",
		"/c2c/dir/1":           "/c2c/dir/1",
		"/c2c/doc/":            "/c2c/doc/",
	} {
		if got := DocLabel(in); got != want {
			t.Errorf("DocLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
