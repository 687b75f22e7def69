// Package device is the phone side of c2c: a document open on a device, in
// one of two modes behind one interface, Doc.
//
//   - Clone mode (device/client): the device's only peer is its own clone;
//     edits and updates travel on the /c2c/device/2.2.0 link (device/link)
//     under a two-party Jupiter protocol (device/jupiter); the clone side is
//     device/server. The device does no signature and no AEAD operation of
//     its own: the clone verifies and decrypts.
//   - Direct mode (device/direct): the device runs the whole clone engine
//     (docsync/cloneservice) on its own host, joins gossipsub and verifies
//     and decrypts every entry. This is the SPORC baseline; it shares the
//     document with clone-mode devices.
//
// A clone-mode device can keep an undo history of its own edits
// (device/undo, client.WithUndo), and its app can run as a local web page
// (device/web, c2c device web).
//
// Accounting (Meter) counts bytes per protocol on the device host, CPU time
// of the process and the crypto operations each mode performs.
package device

import (
	"context"

	"github.com/clone2clone/c2c/docsync/ot"
)

// Mode is how a device takes part in a document.
type Mode string

// Modes.
const (
	ModeClone  Mode = "clone"
	ModeDirect Mode = "direct"
)

// Doc is a document open on a device.
type Doc interface {
	// Text is the device's current text.
	Text() string
	// EditFunc applies the ops build returns for the current text length
	// (code points), each based on the text after the previous one.
	EditFunc(build func(length int) ([]ot.Op, error)) error
	// WaitSynced blocks until every local edit is acknowledged (clone mode:
	// by the clone; direct mode: committed by the sequencer).
	WaitSynced(ctx context.Context) error
	// Close closes the document.
	Close()
}
