// Package seqservice is the CloneDoc sequencer as a libp2p service: it
// orders the encrypted, signed envelopes of every document registered with
// it, persists each ordered entry durably before publishing it, and serves
// history ranges. It never sees plaintext and nobody trusts it: clones verify
// everything it signs (docsync).
//
// # Registration
//
// A document is registered by its creator clone, which sends the genesis
// envelope on the register stream protocol (netproto.RegisterProtocol). The
// sequencer orders it as seq 1 if its genesis op names this sequencer's key,
// persists it, joins the document's topics and replies with the signed entry.
// Re-sending the same genesis (a creator restarting) returns the same entry.
//
// # Adoption (a document moving here)
//
// A document created on another sequencer moves here when a member sends
// an adopt request (netproto.AdoptProtocol): an admin's takeover envelope
// naming this sequencer (sent by its author), or the entry of a planned
// move to it that the previous sequencer ordered. The service fetches the
// history before the move from that member, replays it through a new
// Orderer's Restore (which checks every envelope and chain hash), checks
// the last head against the key that signed it, and persists it; only then
// does it register the document and, for a takeover, order the move. A
// resent request is answered with the stored move entry (adopt.go).
//
// # Flow per document
//
//   - the submit topic's validator decodes envelopes and rejects (lowering
//     the sender's gossipsub score) garbage, oversized, wrong-document,
//     badly signed ones, ones not sent by their author (the peer that
//     sent the message: gossip messages carry no publisher) and ones by
//     non-members; rejections are counted. It queues each admitted
//     envelope for the loop itself and has gossipsub ignore the message,
//     so a submit topic never relays (an author's envelope reaches the
//     sequencer from its author only);
//   - one event loop owns all mutable state (go-libp2p-pubsub processLoop
//     style): it orders a batch of envelopes with the document's
//     sequencer.Orderer (sequencer.Honest: the Reference sequencer), writes
//     the entries in one datastore batch, syncs it (durable), then hands
//     each entry to the feeds of the members (netproto.FeedProtocol,
//     feed.go: one long-lived stream per member clone and document, written
//     by its own goroutine, as many entries per write as are queued; a
//     feed that falls QueueSize behind is dropped and the clone reopens it
//     from where it is), pushes it (netproto.PushProtocol) to the members
//     on the entries topic that have no feed while they are few, publishes
//     it on that topic when more than a quarter lack one, and,
//     periodically, its signed head
//     on the heads topic;
//   - history ranges are served from the datastore over
//     netproto.HistoryProtocol.
//
// After a restart New reloads every document from the datastore with
// Orderer.Restore and continues after the last persisted seq, so a seq is
// never reused (an entry is published only after it is durable).
//
// There is one path for every sequencer: the service owns persistence and
// the members-only checks. WithSequencer plugs another sequencer.Orderer
// in place of the honest one, for tests and the demo only (seqtest wraps
// sequencer.Byzantine): its log is persisted like the honest one's, its
// deliveries go to the feeds of the members they are for, and to those
// without a feed on the entries topic (deliveries to everyone) or on
// netproto.PushProtocol (targeted ones, to the subscribed peers they name), and
// the history it serves (Orderer.History) may be a view of its own.
//
// On a node (role sequencer), node.Node.StartSequencer wires it.
//
// Every Params.CheckpointEvery entries of a document it writes a checkpoint
// of its own log state and deletes the entries before the last
// Params.KeepHistory, in one synced batch; it restarts from the checkpoint,
// and answers history requests for deleted ranges with
// netproto.CompactedError (compact.go, docs/snapshots.md). A document that
// moves here from a member that compacted its log is started from that
// member's verified snapshot (its key schedule included) and the tail
// after it (adoptsnap.go).
//
// Data layout in the datastore given to New (namespace it):
// /d/<doc hex>/<seq as 16 hex digits> -> encoded docsync.Entry;
// /ck/<doc hex>/log -> docsync.LogState.Checkpoint, /ck/<doc hex>/first ->
// the first seq after the genesis whose entry is kept (big-endian uint64).
package seqservice
