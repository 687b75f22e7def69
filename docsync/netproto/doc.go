// Package netproto is the CloneDoc wire protocol between clones and the
// sequencer on libp2p: gossipsub topic names, stream protocol IDs, the
// length-prefixed framing used on every stream, the history and register
// requests and the invitation message (pure codecs, fuzzed), plus the small
// stream helpers both services share (serve and fetch history ranges).
//
// Topics (one set per document, <doc> = the DocID in unpadded base64url,
// 43 characters: every message and control entry carries its topic):
//
//	/c2c/doc/<doc>/submit   clone -> sequencer: an encoded docsync.Envelope
//	/c2c/doc/<doc>/entries  sequencer -> clones: an encoded docsync.Entry,
//	                        only for members without a feed (the repair path)
//	/c2c/doc/<doc>/heads    clones (and the sequencer) gossip a docsync.Head
//	/c2c/doc/<doc>/presence members' carets (docsync/presence), ephemeral
//
// Streams (every message is one frame: uvarint length, then the bytes):
//
//	/c2c/doc/register/1.0.0  creator -> sequencer: frame(genesis envelope);
//	                         reply frame(status || entry or error text)
//	/c2c/doc/submit/1.0.0    clone -> sequencer: frame(envelope); reply
//	                         frame(status || error text): the fallback when
//	                         gossipsub does not show the sequencer on the
//	                         submit topic
//	/c2c/doc/history/1.0.0   member clone -> sequencer or member clone:
//	                         frame(HistoryRequest); reply: frames of entries,
//	                         then an empty frame; a non-member's request is
//	                         refused (the stream is reset); a range behind
//	                         the peer's snapshot is answered by one
//	                         "compacted" frame (0x00 'C' || first kept seq ||
//	                         snapshot seq) instead of entries
//	/c2c/doc/feed/1.0.0      member clone -> its document's sequencer:
//	                         frame(FeedRequest); the sequencer writes the
//	                         stored entries from its From (at most
//	                         MaxFeedCatchUp), then each new entry as it
//	                         is durable, one frame each, for as long as
//	                         the stream lives: how entries reach members
//	/c2c/doc/snapshot/1.0.0  member -> member clone: frame(doc); reply
//	                         frame(status || signed snapshot, empty if none)
//	/c2c/doc/push/1.0.0      sequencer -> clone: frames of entries, then an
//	                         empty frame (targeted delivery to a clone
//	                         without a feed; accepted from the document's
//	                         sequencer only)
//	/c2c/doc/invite/2.0.0    admin clone -> invited clone: frame(Invitation,
//	                         carrying the genesis and add-member entries and
//	                         the inviter's owner certificate); reply
//	                         frame(status || error text)
package netproto
