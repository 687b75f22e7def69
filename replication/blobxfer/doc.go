// Package blobxfer moves a blob's DAG (a boxostore.Ref: unixfs root CID,
// SHA-256, size) between a device and its clone, and between clones, on
// its own protocol, /c2c/blob/1.0.0.
//
// One stream per transfer. The side that receives the blocks (the puller)
// walks the DAG top-down: it reads what it already holds from its own
// store, and asks the other side (the giver) for the missing blocks of a
// level in want frames, keeping Window blocks asked for and not received,
// which the giver answers in order, block after block, with no round trip
// per block. A 20 MB blob under the pinned
// profile is a root and 80 leaves: two rounds. Every block is checked
// against the CID its parent (or the Ref) names before it is stored, so a
// transfer cut anywhere leaves only verified blocks, and the next one asks
// only for those still missing: that is the resume. When the DAG is
// complete the puller reads the content back and checks the Ref's SHA-256
// and size; then it ends the stream with a done frame.
//
// Pull (the opener pulls: a device from its clone, a recipient clone from
// the sender clone) and Push (the opener gives: a device uploads to its
// own clone, which pulls over the same stream, so that it first says what
// it lacks and a blob it holds costs one round trip) are the two modes.
// The giver serves only blocks of the DAG it was asked for, in the order
// the walk reaches them.
//
// Server is the clone's side. It serves and accepts blobs for the device
// its owner certificate names (the stream's peer must be that device
// key), and serves other clones only what its Authorizer allows: in c2c
// the deliver service, which allows a blob to the clones of the
// recipients of an outbox request that names it. A clone's hello carries
// its owner certificate, which must verify and name the stream's peer.
// Budgets: frames are read through internal/bounded under a cap per kind
// (hello 4.5 KiB, want about 16 KiB, block boxostore.MaxBlockBytes), a blob is at
// most MaxBlobBytes, its DAG has at most as many blocks as its size allows
// and no node more than boxostore.MaxLinks links, streams per peer are
// rate limited (internal/guard), and every read and every write has an
// idle deadline (a puller that stops reading does not hold the giver).
package blobxfer
