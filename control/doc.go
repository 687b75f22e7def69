// Package control is a clone's local control API: the owner of a clone
// drives its documents (create, invite, remove, edit, show, log, watch)
// through it, and `c2c doc` is its command-line client.
//
// # Transport and authentication
//
// The API is JSON over HTTP on a unix socket, by default <data>/control.sock
// (SocketFile). The socket file is created with mode 0600 inside the clone's
// data dir (mode 0700), so only the OS user that runs the clone can connect:
// the file permissions are the owner authentication, as for the docker or
// containerd sockets. On Linux the server also checks each connection's
// peer credentials (SO_PEERCRED) and drops those of another OS user. There
// is no network listener and no token. The server refuses to start if the
// socket's directory is accessible to group or others.
//
// # Endpoints (document IDs are 64 hex digits; a unique prefix of 8 or more works)
//
//	GET  /v1/status                  peer and member ID, service counters
//	GET  /v1/docs                    tracked documents
//	POST /v1/docs                    {"sequencer": addr} -> {"doc": id}
//	GET  /v1/docs/{doc}              DocInfo: text, head seq and hash, pending, alarms
//	GET  /v1/docs/{doc}/members      members with role and clone peer ID
//	POST /v1/docs/{doc}/invite       {"user", "device", "role"} -> {"member"}
//	POST /v1/docs/{doc}/remove       {"member": member hex or clone peer ID}
//	POST /v1/docs/{doc}/edit         EditRequest -> EditResult (returns once durable)
//	GET  /v1/docs/{doc}/log?from=&to=  committed entries (no plaintext)
//	GET  /v1/docs/{doc}/events       newline-delimited JSON Events until the client leaves
//	GET  /v1/docs/{doc}/evidence     []EvidenceItem: evidence against the sequencer, encoded
//	POST /v1/docs/{doc}/move         MoveRequest -> MoveResult: move to another sequencer (waits)
//
// Errors are {"error": text, "code": code} with an HTTP status; the client
// turns them back into the sentinels below (errors.Is works across the
// socket).
package control

import "errors"

// SocketFile is the control socket's name inside a clone's data dir.
const SocketFile = "control.sock"

// Sentinel errors. The client returns them wrapped, with the server's text.
var (
	// ErrNotRunning: nothing listens on the socket (the clone is not running).
	ErrNotRunning = errors.New("control: clone not running")
	// ErrBadRequest: the request is malformed (bad ID, position out of range...).
	ErrBadRequest = errors.New("control: bad request")
	// ErrUnknownDoc: the clone does not track the document (or the prefix is ambiguous).
	ErrUnknownDoc = errors.New("control: unknown document")
	// ErrHalted: the document stopped after a fork or misbehaviour alarm, or a storage failure.
	ErrHalted = errors.New("control: document halted")
	// ErrFailed: the operation failed on the clone (network, refused, storage...).
	ErrFailed = errors.New("control: operation failed")
	// ErrInsecureSocket: the socket's directory is accessible to other users.
	ErrInsecureSocket = errors.New("control: socket directory not private")
	// ErrForeignUser: a connection came from another OS user (dropped).
	ErrForeignUser = errors.New("control: connection from another user")
)

// Error codes on the wire.
const (
	codeBadRequest = "bad_request"
	codeUnknownDoc = "unknown_doc"
	codeHalted     = "halted"
	codeFailed     = "failed"
)
