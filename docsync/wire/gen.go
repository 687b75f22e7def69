// Package wire holds the protobuf messages of CloneDoc (envelopes, ordered
// entries, heads, fork proofs, membership operations, key bundles and
// snapshots). The generated code is committed so builds never need protoc.
// Validation, size caps and canonical signing bytes live in package docsync.
package wire

//go:generate protoc --go_out=. --go_opt=paths=source_relative docsync.proto snapshot.proto
