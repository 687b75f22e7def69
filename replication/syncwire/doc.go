// Package syncwire is the wire format of the mirror's sync protocol,
// /c2c/mirror/1.0.0, which the device opens to its clone on the connection
// it already holds (beside /c2c/device/1.0.0).
//
// A stream carries frames: a uvarint length, then the body, whose first
// byte is the message kind. The device says Hello (who it is, its mirror
// epoch and parameters, and where it stands: last batch closed, next seq,
// last network input consumed); the clone answers Welcome (the last batch
// it holds, the last network input it relayed, its replay head) or Refuse.
// Then the device sends Batch, Chunk and Offer frames (the replication
// core's own encodings, carried as they are), and the clone sends Net
// (network inputs relayed to the device), Ack (a batch is durable at the
// clone), Replayed, Resync, Want and Done.
//
// Every integer is a minimal uvarint. The decoders never allocate from an
// announced length before the bytes are there, cap every count and size,
// and reject trailing bytes; ReadFrame takes a cap (HelloFrame for the
// first frame, read before the device is authorized).
package syncwire
