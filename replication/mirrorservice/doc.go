// Package mirrorservice is the clone side of the mirror: the
// replay server. It serves /c2c/mirror/1.0.0 to the one device that the
// clone's owner certificate authorizes, keeps a replication.Mirror for it,
// relays network inputs to it (Relay: accepted and kept while the phone is
// off), and replays the device's batches on schedule.
//
// One event loop owns the Mirror. Every call that changes it is a record in
// a journal (package journal) on the clone's datastore, under its own
// namespace, written and synced after the core verified the input and
// before anything it caused leaves the process: an Ack, a relayed input, a
// replay's outputs. On boot the journal is replayed into a fresh Mirror, so
// the mirror survives kill -9 and restart with nothing lost or applied
// twice. Load does the same offline, for the operator's view.
package mirrorservice
