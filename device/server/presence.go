package server

import "github.com/clone2clone/c2c/device/link"

// selection takes a device's caret on the hub's text at version v.
func (hb *hub) selection(se *session, v uint64, sel link.Selection) {
	// Shared with the other members' clones in the next step (presence).
	_, _, _ = se, v, sel
}
