// Package web serves the phone's app as a local web page: the device
// process (its link to the clone, its persisted documents) stays where it
// is, and a browser on the same machine talks to it over one WebSocket.
//
// Security model. The page and its WebSocket are for the person at this
// machine only: the listener is loopback unless the caller says otherwise
// (CheckListen), every request must carry the per-run random token the
// command prints (the page's URL holds it), the WebSocket's Origin must be
// the page's own origin (another site open in the same browser cannot
// talk to it), and the Host header must be the address served (no DNS
// rebinding). The page's messages are a stranger's bytes like any other:
// each is bounded in size, a session has a token-bucket budget of
// messages, and every op is checked against the text it claims to edit.
//
// Consistency. Each open document has one hub goroutine that owns a
// jupiter.Server mirroring the device's text; each page is a Jupiter
// client of it (with one edit in flight, like the device is of its
// clone), so a page's edit made against a text that has moved on since is
// transformed in, and the page transforms the hub's ops past its own
// pending edits. Positions on the wire are the ot package's code points;
// the page converts to and from the UTF-16 offsets of its textarea.
//
// Undo and redo run on the device (client.Doc.Undo), so they take back
// only this device's own edits, transformed past everyone's later ones.
package web
