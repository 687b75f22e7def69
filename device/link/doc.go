// Package link is the wire format of the device link, protocol
// /c2c/device/2.1.0: one stream per (device, document), opened by the device
// to its clone. Every message is one frame (uvarint length, then a kind byte
// and the body); integers are uvarints, byte strings are length-prefixed,
// ops use the docsync/ot encoding.
//
//	device -> clone   Hello   user, device name, doc, jupiter.Hello
//	                  Edit    counter, base version, op
//	clone -> device   Bundle  epoch, from, to, op or snapshot (always first;
//	                          flag 0 op, 1 snapshot, 2 snapshot without the
//	                          device's in-flight edit)
//	                  Op      the committed entry's seq and author (32 bytes),
//	                          then a remote op, already ordered (version + 1)
//	                  Ack     the counter of the device's edit (version + 1)
//	                  Refuse  a reason code and text; the clone then resets
//	                  Alarm   a code (1 sequencer stalled, 2 resumed) and text;
//	                          the session goes on
//
// The package is pure: it encodes and decodes, the device and clone sides do
// the I/O.
package link

import "github.com/libp2p/go-libp2p/core/protocol"

// Protocol is the device link's stream protocol.
//
// 2.1.0: the clone sends Alarm (sequencer stalled, resumed). 2.0.0: an Op
// names the committed entry it came from (seq, author); 1.0.0 sent the op
// alone.
const Protocol protocol.ID = "/c2c/device/2.1.0"
