// Package replication is the pure core of the mirror: the clone
// keeps a replica of its phone by replaying the phone's input events through
// the same deterministic apps, instead of copying every changed byte.
//
// The device side ([Device]) applies each input at once, records user inputs
// and the positions at which it consumed network inputs, and every
// t_syn_int closes a [Batch]: the inputs in order, its state hash after them
// and the chain hash of all batches so far, signed by the device key. The
// mirror side ([Mirror]) caches every network input it relays to the device,
// verifies each batch, merges user and network inputs in the device's order
// and replays a batch closed at t_k+t_syn_int at t_k+t_syn_int+t_max, so it
// trails the phone by t_syn_int+t_max at the most; it measures that lag. A
// state hash mismatch, or a lost batch, is a divergence: the device freezes,
// offers its state as a signed list of content-addressed chunk hashes per
// app ([Offer]), the mirror fetches only the chunks it lacks, verifies them
// against the device's hash, imports them and replay resumes.
//
// Apps implement [App] and are added through a [Registry]; their state hash
// is a Merkle root over their chunks ([Tree]), maintained incrementally.
// A [Template] is a provider-signed manifest of the apps' factory state for a
// device model: a new mirror is the template plus the user's data.
//
// Nothing here imports libp2p, starts a goroutine, reads a clock or draws
// randomness. Device and Mirror follow etcd raft's shape, like docsync's
// Replica: inputs are method calls with the time passed in as a [Time], and
// outputs accumulate in a Ready value that the caller sends and then
// acknowledges with Advance. Chunks go through the small [ChunkStore]
// interface; [MemStore] is the in-memory one, a boxo-backed store lives
// beside this package.
package replication
