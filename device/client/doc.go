// Package client is the device side of the device link in clone mode: a
// device host whose only peer is its own clone. Open a document to get a
// Doc; edits apply at once (jupiter.Client) and travel on one
// /c2c/device/2.2.0 stream per document; remote edits arrive already
// ordered and transformed.
//
// With WithStateDir every local edit is written and synced before it is
// sent (one record appended to the document's log, a snapshot beside it:
// statelog.go), so edits survive kill -9; after a restart Open resends them and
// the clone applies each (device, counter) once. The writes are a group
// commit: one writer per document writes without the document's lock, and
// what changed while a write was in flight is written by the next one.
//
// Presence: SetSelection sends the device's caret to its clone
// (coalesced, at most one per Params.SelectionInterval); Presence returns
// the other members' carets on Text(), kept on their characters through
// every op the device applies, and PresenceUpdates signals when they
// change (docs/presence.md).
//
//	c, _ := client.New(h, cloneInfo, userID, "phone", client.WithStateDir(dir))
//	d, _ := c.Open(ctx, docID)
//	d.Edit(op)
//	d.Disconnect(); ...; d.Connect(ctx) // one catch-up bundle
package client
