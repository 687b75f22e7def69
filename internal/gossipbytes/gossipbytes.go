// Package gossipbytes counts the bytes a gossipsub router sends, by topic
// and by part of the RPC: the messages themselves, the subscriptions and
// each kind of control message (IHAVE, IWANT, IDONTWANT, GRAFT, PRUNE).
// It is a pubsub.RawTracer, shared by every host of a process, for
// benchmarks that need to know what on /meshsub grows with the members.
//
// A message ID names no topic, so an IWANT or IDONTWANT is attributed to
// the topic of the message it names: the counter learns each ID's topic
// when a message is sent (every host of the process shares the counter,
// and a message is sent before anyone asks for it or refuses it) or
// announced in an IHAVE. IDs it never saw count under topic "?".
package gossipbytes

import (
	"maps"
	"strings"
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The parts of an RPC that Counter tells apart.
const (
	PartMessage     = "message"
	PartSubscribe   = "subscribe"
	PartIHave       = "ihave"
	PartIWant       = "iwant"
	PartIDontWant   = "idontwant"
	PartGraft       = "graft"
	PartPrune       = "prune"
	PartFraming     = "framing" // length prefixes, the control wrapper, extensions
	unknownTopic    = "?"
	maxRememberedID = 1 << 18 // IDs kept for attribution; the map starts over past it
)

// Key is one row of the breakdown.
type Key struct {
	Topic string // as Label names it
	Part  string // one of the Part constants
}

// Counter is a pubsub.RawTracer that adds up the bytes of every RPC sent,
// by Key. The zero value is not usable: use New.
type Counter struct {
	idFn  func(*pb.Message) string
	label func(string) string

	mu       sync.Mutex
	bytes    map[Key]int64
	ids      map[string]string // message ID -> label
	distinct map[string]int64  // label -> messages first sent
}

// New returns a counter. idFn must be the routers' message ID function;
// label names a topic in the breakdown (nil: the topic itself).
func New(idFn func(*pb.Message) string, label func(topic string) string) *Counter {
	if label == nil {
		label = func(t string) string { return t }
	}
	return &Counter{idFn: idFn, label: label, bytes: map[Key]int64{}, ids: map[string]string{}, distinct: map[string]int64{}}
}

// DocLabel names a CloneDoc topic (/c2c/doc/<doc>/<kind>) "doc/<kind>",
// so that the figures of all documents add up; other topics stay as they are.
func DocLabel(topic string) string {
	if rest, ok := strings.CutPrefix(topic, "/c2c/doc/"); ok {
		if i := strings.LastIndexByte(rest, '/'); i >= 0 {
			return "doc/" + rest[i+1:]
		}
	}
	return topic
}

// Snapshot returns a copy of the counts so far.
func (c *Counter) Snapshot() map[Key]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.bytes)
}

// Messages returns, by topic, how many distinct messages were sent so far
// (a message relayed by many hosts counts once; an ID announced in an
// IHAVE before its message was sent here counts as not new).
func (c *Counter) Messages() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.distinct)
}

// Diff returns after - before, leaving out zero rows.
func Diff[K comparable](after, before map[K]int64) map[K]int64 {
	out := map[K]int64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// field is the size of a length-delimited field holding n bytes.
func field(n int) int { return 1 + protowire.SizeVarint(uint64(n)) + n }

// SendRPC adds up the RPC's bytes as the wire carries them: each RPC is
// written with a uvarint length prefix.
func (c *Counter) SendRPC(rpc *pubsub.RPC, _ peer.ID) {
	total := proto.Size(&rpc.RPC)
	total += protowire.SizeVarint(uint64(total))
	c.mu.Lock()
	defer c.mu.Unlock()
	parts := 0
	add := func(topic, part string, n int) {
		c.bytes[Key{topic, part}] += int64(n)
		parts += n
	}
	for _, s := range rpc.GetSubscriptions() {
		add(c.label(s.GetTopicid()), PartSubscribe, field(proto.Size(s)))
	}
	for _, m := range rpc.GetPublish() {
		l := c.label(m.GetTopic())
		if c.remember(c.idFn(m), l) {
			c.distinct[l]++
		}
		add(l, PartMessage, field(proto.Size(m)))
	}
	ctl := rpc.GetControl()
	for _, ih := range ctl.GetIhave() {
		l := c.label(ih.GetTopicID())
		for _, id := range ih.GetMessageIDs() {
			c.remember(id, l)
		}
		add(l, PartIHave, field(proto.Size(ih)))
	}
	for _, iw := range ctl.GetIwant() {
		c.byIDs(iw.GetMessageIDs(), PartIWant, add)
	}
	for _, dw := range ctl.GetIdontwant() {
		c.byIDs(dw.GetMessageIDs(), PartIDontWant, add)
	}
	for _, g := range ctl.GetGraft() {
		add(c.label(g.GetTopicID()), PartGraft, field(proto.Size(g)))
	}
	for _, p := range ctl.GetPrune() {
		add(c.label(p.GetTopicID()), PartPrune, field(proto.Size(p)))
	}
	if rest := total - parts; rest > 0 {
		c.bytes[Key{"", PartFraming}] += int64(rest)
	}
}

// byIDs splits a list of message IDs (one IWANT or IDONTWANT entry) by
// the topics of the messages they name.
func (c *Counter) byIDs(ids []string, part string, add func(topic, part string, n int)) {
	if len(ids) == 0 {
		return
	}
	size := 0
	for _, id := range ids {
		size += field(len(id))
	}
	add(c.topicOf(ids[0]), part, field(size)-size) // the entry's own tag and length
	for _, id := range ids {
		add(c.topicOf(id), part, field(len(id)))
	}
}

func (c *Counter) topicOf(id string) string {
	if l, ok := c.ids[id]; ok {
		return l
	}
	return unknownTopic
}

// remember notes id's topic and says whether the ID was new.
func (c *Counter) remember(id, label string) bool {
	if _, ok := c.ids[id]; ok {
		return false
	}
	if len(c.ids) >= maxRememberedID {
		clear(c.ids)
	}
	c.ids[id] = label
	return true
}

// The rest of pubsub.RawTracer: nothing to count.

func (c *Counter) AddPeer(peer.ID, protocol.ID)             {}
func (c *Counter) RemovePeer(peer.ID)                       {}
func (c *Counter) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (c *Counter) OnClosedOutboundStream(peer.ID)           {}
func (c *Counter) Join(string)                              {}
func (c *Counter) Leave(string)                             {}
func (c *Counter) Graft(peer.ID, string)                    {}
func (c *Counter) Prune(peer.ID, string)                    {}
func (c *Counter) ValidateMessage(*pubsub.Message)          {}
func (c *Counter) DeliverMessage(*pubsub.Message)           {}
func (c *Counter) RejectMessage(*pubsub.Message, string)    {}
func (c *Counter) DuplicateMessage(*pubsub.Message)         {}
func (c *Counter) ThrottlePeer(peer.ID)                     {}
func (c *Counter) RecvRPC(*pubsub.RPC)                      {}
func (c *Counter) DropRPC(*pubsub.RPC, peer.ID)             {}
func (c *Counter) UndeliverableMessage(*pubsub.Message)     {}

var _ pubsub.RawTracer = (*Counter)(nil)
