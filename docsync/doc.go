// Package docsync is the pure protocol core of CloneDoc: envelopes and
// sequencer-ordered entries with canonical signing bytes, the hash chain,
// membership and per-epoch document keys, moves to another sequencer
// (move.go: a planned handover or a takeover, which the log records as
// which key signs which seqs), recovery from a fork, a tampered entry or a
// withheld one (recover.go: the last seq every member's chain shares,
// AgreedPrefix, and a takeover from it, TakeoverFrom; a halted replica
// follows it by rolling back), fork proofs, transferable
// evidence of a sequencer's misbehaviour (Evidence: fork, tampered entry,
// forged seq; the Replica emits EventEvidence when a rejected entry proves
// one), signed and encrypted snapshots that a new member joins from
// instead of replaying the log from seq 1 (SealedSnapshot, Replica.
// SealSnapshot, Join; docs/snapshots.md) and that a long-offline clone
// jumps to with its pending edits rebased (Replica.JumpFromSnapshot), and
// the clone's document state machine (Replica).
//
// Nothing here imports libp2p, starts a goroutine or reads a clock. The
// Replica follows etcd raft's shape: inputs are method calls (Propose,
// HandleEntry, HandleHead, ...), outputs accumulate in a Ready value that the
// caller persists and sends, then acknowledges with Advance.
//
// Identities are raw Ed25519 public keys (a libp2p Ed25519 peer key is the
// same 32 bytes). Document keys are 32-byte XChaCha20-Poly1305 keys, one per
// key epoch, wrapped to members with HPKE (ML-KEM-768+X25519, HKDF-SHA256,
// ChaCha20-Poly1305). Hashes are SHA-256.
package docsync
