package jupiter

import "errors"

// Errors returned by this package. Callers check them with errors.Is.
var (
	// ErrBase: an edit's base version is not in the server's history
	// (ahead of it, or older than what it keeps).
	ErrBase = errors.New("jupiter: edit base outside the history")
	// ErrEpoch: the client's version belongs to another server history
	// (the clone restarted) and the client has unacknowledged edits.
	ErrEpoch = errors.New("jupiter: version from another history")
	// ErrProtocol: a message does not fit the client's state (an ack with
	// nothing in flight, a counter that does not match, a bundle from the
	// wrong version).
	ErrProtocol = errors.New("jupiter: protocol violation")
	// ErrOp: an op does not apply (wrong base length or malformed).
	ErrOp = errors.New("jupiter: op does not apply")
	// ErrState: an encoded client state is malformed.
	ErrState = errors.New("jupiter: malformed client state")
)
