// Package jupiter is the pure two-party consistency core of the device link:
// a device (Client) editing a copy of its clone's text, and the clone side
// (Server) that orders the edits of its devices with the document's remote
// updates. It follows the Jupiter / ot.js client-server scheme.
//
// The Server keeps a linear history of every op applied to the clone's text
// (remote updates and device edits); its Version is the number of ops in that
// history since the server started, and Epoch names that history. A device
// edit carries the last version its device had seen (Base) and a per-device
// Counter; the server transforms it against history[Base:] and appends it.
// The server then sends each device every history entry in order: its own
// edits as acks, the others as ops that apply to the device's text after
// the client transformed them past its own unacknowledged edits.
//
// The Client applies its edits at once, keeps one edit in flight and composes
// later ones into a buffer until the ack (ot.js's AwaitingWithBuffer), so an
// edit is always based on a version the server has.
//
// After a disconnection the client says where it stands (Hello) and the
// server answers with one Bundle: the composition of all it missed (an
// insert later deleted cancels out), split around the ack of its in-flight
// edit when that was applied meanwhile, or a snapshot when that is smaller
// and the client has no buffered edits. Counters make a resent edit
// idempotent: the server applies each (device, counter) at most once.
//
// Nothing here starts goroutines, reads a clock or does I/O.
package jupiter
