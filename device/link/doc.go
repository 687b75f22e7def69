// Package link is the wire format of the device link, protocol
// /c2c/device/2.2.0: one stream per (device, document), opened by the device
// to its clone. Every message is one frame (uvarint length, then a kind byte
// and the body); integers are uvarints, byte strings are length-prefixed,
// ops use the docsync/ot encoding.
//
//	device -> clone   Hello   user, device name, doc, jupiter.Hello
//	                  Edit    counter, base version, op
//	                  Selection (kind 8) version, anchor, head: the
//	                          device's caret on the clone's text at that version
//	clone -> device   Bundle  epoch, from, to, op or snapshot (always first;
//	                          flag 0 op, 1 snapshot, 2 snapshot without the
//	                          device's in-flight edit)
//	                  Op      the committed entry's seq and author (32 bytes),
//	                          then a remote op, already ordered (version + 1)
//	                  Ack     the counter of the device's edit (version + 1)
//	                  Refuse  a reason code and text; the clone then resets
//	                  Alarm   a code (1 sequencer stalled, 2 resumed) and text;
//	                          the session goes on
//	                  Presence (kind 9) version, count, then per member device:
//	                          member ID (32 bytes), name, device name, anchor,
//	                          head, age in ms; the whole set of other members'
//	                          carets on the clone's text at that version
//	                  Members (kind 10) count, then per member: member ID
//	                          (32 bytes), role (1 reader, 2 writer, 3 admin),
//	                          flags (1: the device's own clone); the whole list,
//	                          after the bundle, then again when it changed
//	                          (looked up at most once a second as entries stream)
//
// Presence is ephemeral: a device sends Selection whenever its caret moves
// (coalesced), and the clone answers with the current set whenever it
// changes; neither is persisted. Positions are code points of the named
// version; each side moves them through the ops it applied since.
//
// The package is pure: it encodes and decodes, the device and clone sides do
// the I/O.
package link

import "github.com/libp2p/go-libp2p/core/protocol"

// Protocol is the device link's stream protocol.
//
// 2.2.0: presence (Selection, Presence) and the member list (Members). 2.1.0: the clone sends Alarm
// (sequencer stalled, resumed). 2.0.0: an Op names the committed entry it
// came from (seq, author); 1.0.0 sent the op alone.
const Protocol protocol.ID = "/c2c/device/2.2.0"
