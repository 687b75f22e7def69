package netproto

import (
	pubsub "github.com/libp2p/go-libp2p-pubsub"
)

// GossipOptions are the gossipsub options every c2c peer must share: they
// decide what goes on the wire and how messages are named.
//
// Every payload c2c gossips is signed by the key that vouches for it: an
// envelope by its author, an entry and a head by the sequencer, a
// directory record by its owner, and every receiver checks that signature
// in its topic validator. Gossipsub's own message signature (StrictSign)
// would sign each message a second time, by its publisher, and every
// receiver would check both: 12% of a busy clone's CPU went on that second
// check. So messages are unsigned and carry no publisher or counter
// (StrictNoSign), and a message's ID is the hash of its bytes: the same
// payload published twice is one message, seen once; a different payload
// (a forked head) is another.
//
// What StrictSign gave besides, the publisher's identity, c2c takes from
// the payload's signature or, on the submit topic, from the peer that sent
// the message, which must be its author (see seqservice).
func GossipOptions() []pubsub.Option {
	return []pubsub.Option{
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithMessageIdFn(MessageID),
		pubsub.WithMaxControlMessageSize(GossipMaxControlBytes),
		pubsub.WithGossipSubParams(GossipParams()),
		// Flood publish: a publisher sends to every peer on the topic, not
		// only to its mesh or, on a topic it does not subscribe to, to a
		// fanout set it chose at its first publish. Members publish on a
		// submit topic without subscribing, and its fanout is refreshed
		// only at the heartbeat: after a move it still held just the old
		// sequencer, so each writer's first envelopes never reached the new
		// one and waited for a resubmit (netsim TestEditAfterMoveIsNotHeldBack).
		pubsub.WithFloodPublish(true),
	}
}

// GossipParams are gossipsub's defaults with a smaller mesh, IDONTWANT
// for small messages and little IHAVE gossip. A publisher sends its
// message to every peer on the topic at once (flood publish: GossipOptions
// turns it on, since go-libp2p-pubsub v0.17 leaves it off unless asked),
// so on a document's entries topic every member gets each entry
// from the sequencer directly and the mesh only repairs: each mesh peer
// forwards a copy anyway, and with gossipsub's degree of 6 to 12 a member
// received about seven copies of each entry and announced it to six more
// peers in the heartbeat's IHAVE. With a degree of 3 to 6 and IDONTWANT
// sent, before validation, for every message of 256 bytes or more
// (gossipsub's threshold is 1 KiB; an entry is about 370 bytes), c2c bench
// latency with 16 clones sent half the bytes per edit, and its clones
// spent less CPU on them.
//
// IHAVE is a third way to a message that flood publish and the mesh
// already delivered, and c2c repairs a loss itself (a member fetches a gap
// from the sequencer or a member, a feed reopens from the next seq, heads
// and claims are repeated every HeadRepeat). With gossipsub's defaults
// each peer announced each message it saw in three heartbeats, each time
// to a quarter of the topic's peers outside its mesh (at least Dlazy):
// announcements that grow with the members squared, 1,773 bytes per edit
// of the heads topic's IHAVE alone with 32 clones (c2c bench latency,
// meshsub_bytes_per_edit). Now each announcement goes to Dlazy (3) peers.
// The window stays gossipsub's three heartbeats: with one
// (HistoryGossip 1) a clone that restarts into an idle document after a
// takeover never caught up (netsim TestMovesOfCompactedDoc, 10 of 10
// runs), because what it missed reached it only through IHAVE of a
// message from the seconds before it rejoined.
func GossipParams() pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	p.D, p.Dlo, p.Dhi, p.Dscore, p.Dout, p.Dlazy = 4, 3, 6, 2, 1, 3
	p.IDontWantMessageThreshold = 256
	p.GossipFactor = 0
	// Connectors dial the peers that peer exchange or direct peering
	// name; c2c uses neither, so gossipsub's 8 per host only wait. In an
	// N=10,000 directory simulation they were 25,136 of 283,496 goroutines
	// (8 per host); one is left for a caller that turns either on.
	p.Connectors = 1
	return p
}
