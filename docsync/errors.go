package docsync

import "errors"

// Sentinel errors. Every check failure on an ordered entry wraps exactly one of
// these with %w, so callers test with errors.Is.
var (
	// ErrMalformed: a message failed to decode or has an invalid field.
	ErrMalformed = errors.New("docsync: malformed message")
	// ErrTooLarge: a message or field exceeds its size cap.
	ErrTooLarge = errors.New("docsync: message too large")
	// ErrWrongDoc: the message belongs to another document.
	ErrWrongDoc = errors.New("docsync: wrong document")
	// ErrSequencerSignature: the sequencer signature over (doc, seq, chain hash) is invalid.
	ErrSequencerSignature = errors.New("docsync: bad sequencer signature")
	// ErrAuthorSignature: the author signature over the envelope is invalid.
	ErrAuthorSignature = errors.New("docsync: bad author signature")
	// ErrNotMember: the author is not a member at that seq (never added, or removed).
	ErrNotMember = errors.New("docsync: author is not a member")
	// ErrNoWriteRight: the author's role does not allow this operation.
	ErrNoWriteRight = errors.New("docsync: author lacks the required role")
	// ErrReplay: the author counter did not strictly increase.
	ErrReplay = errors.New("docsync: author counter not increasing (replay)")
	// ErrChainHash: the recomputed chain hash differs from the signed one.
	ErrChainHash = errors.New("docsync: chain hash mismatch")
	// ErrParentHash: the envelope's parent hash differs from our chain at the parent (fork*).
	ErrParentHash = errors.New("docsync: parent hash differs from our chain")
	// ErrParentRange: the parent seq is not before the entry's seq, or too old.
	ErrParentRange = errors.New("docsync: parent seq out of range")
	// ErrEpoch: the envelope's key epoch is not the document's current epoch.
	ErrEpoch = errors.New("docsync: wrong key epoch")
	// ErrBadMemberOp: a membership operation is invalid in the current state.
	ErrBadMemberOp = errors.New("docsync: invalid membership operation")
	// ErrDecrypt: an edit body failed to decrypt or decode; the entry commits as a no-op.
	ErrDecrypt = errors.New("docsync: cannot decrypt edit")
	// ErrBadOp: a decrypted op does not apply to the document; the entry commits as a no-op.
	ErrBadOp = errors.New("docsync: op does not apply")
	// ErrNoEpochKey: this clone holds no key for the entry's epoch (e.g. it was removed).
	ErrNoEpochKey = errors.New("docsync: no key for epoch")
	// ErrNotRecipient: a key bundle holds no key wrapped to this clone.
	ErrNotRecipient = errors.New("docsync: key not wrapped to us")
	// ErrFork: the sequencer signed two different heads for one seq.
	ErrFork = errors.New("docsync: sequencer fork")
	// ErrInvalidProof: a fork proof does not prove a fork.
	ErrInvalidProof = errors.New("docsync: invalid fork proof")
	// ErrHalted: the replica stopped submitting after a fork.
	ErrHalted = errors.New("docsync: replica halted after fork")
	// ErrNotReady: the replica cannot take local edits yet (not a member or still catching up).
	ErrNotReady = errors.New("docsync: replica not ready for local edits")
	// ErrGap: entries are missing before this one; a fetch was requested.
	ErrGap = errors.New("docsync: gap in sequence")
)
