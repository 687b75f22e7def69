package replication

import "errors"

// Sentinel errors. Each failure wraps exactly one of these with %w, so callers
// test with errors.Is.
var (
	// ErrTruncated: an encoded message ends before its last field.
	ErrTruncated = errors.New("replication: truncated message")
	// ErrTooLarge: a message, count or payload exceeds its cap.
	ErrTooLarge = errors.New("replication: message too large")
	// ErrMalformed: a message has an invalid field (format byte, zero number,
	// time outside its window, unsorted names, trailing bytes, ...).
	ErrMalformed = errors.New("replication: malformed message")
	// ErrNonCanonical: a varint is not minimally encoded.
	ErrNonCanonical = errors.New("replication: non-canonical encoding")

	// ErrWrongDevice: a batch or offer names another device than the mirror's.
	ErrWrongDevice = errors.New("replication: another device's message")
	// ErrEpoch: a batch or offer belongs to another mirror epoch.
	ErrEpoch = errors.New("replication: wrong mirror epoch")
	// ErrSignature: the signature is not the authorized key's over the message.
	ErrSignature = errors.New("replication: bad signature")
	// ErrReplay: a batch number the mirror has already taken (a replayed batch).
	ErrReplay = errors.New("replication: batch already taken (replay)")
	// ErrBatchGap: a batch number beyond the next one (reordered, or one was
	// lost); the mirror refuses it and resyncs.
	ErrBatchGap = errors.New("replication: batch number out of order")
	// ErrChain: the batch's chain hash does not extend the mirror's chain.
	ErrChain = errors.New("replication: chain hash mismatch")
	// ErrPosition: the batch's first input position is not the next one.
	ErrPosition = errors.New("replication: input position out of order")
	// ErrWindow: the batch window is longer than t_syn_int or goes back in time.
	ErrWindow = errors.New("replication: batch window out of bounds")
	// ErrUnknownApp: an app index or name that the epoch's app set lacks.
	ErrUnknownApp = errors.New("replication: unknown app")
	// ErrUnknownNet: a batch consumes a network input the mirror never relayed
	// or that is out of order.
	ErrUnknownNet = errors.New("replication: unknown network input")

	// ErrStateMismatch: after a replay the mirror's state hash differs from
	// the device's (the reason of a divergence).
	ErrStateMismatch = errors.New("replication: state hash mismatch")
	// ErrEnrol is the cause of the resync that copies a device that is not
	// new once at enrolment (not a failure).
	ErrEnrol = errors.New("replication: enrolment copy")
	// ErrFrozen: the device takes no input while a resync runs.
	ErrFrozen = errors.New("replication: input frozen for resync")
	// ErrNotResyncing: a resync message arrived while no resync runs.
	ErrNotResyncing = errors.New("replication: no resync running")
	// ErrStaleOffer: an offer older than the batches the mirror has taken.
	ErrStaleOffer = errors.New("replication: stale offer")
	// ErrUnwantedChunk: a chunk nobody asked for, or of the wrong size.
	ErrUnwantedChunk = errors.New("replication: unwanted chunk")
	// ErrChunkNotFound: a chunk store lacks the chunk.
	ErrChunkNotFound = errors.New("replication: chunk not found")
	// ErrImport: an app's imported state does not hash to its manifest.
	ErrImport = errors.New("replication: import does not match manifest")
	// ErrNetOrder: the device got network inputs out of order.
	ErrNetOrder = errors.New("replication: network input out of order")
	// ErrCacheFull: the mirror holds MaxNetCache network inputs the device has not consumed.
	ErrCacheFull = errors.New("replication: network input cache full")
	// ErrAppExists: a registry already holds an app of that name.
	ErrAppExists = errors.New("replication: app already registered")
	// ErrParams: a Params or Config value is out of range.
	ErrParams = errors.New("replication: invalid parameters")
)
