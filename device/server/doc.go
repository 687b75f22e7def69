// Package server is the clone side of the device link (/c2c/device/2.2.0):
// it accepts its owner's device, authorized by the clone's owner
// certificate, and keeps the device consistent with the clone's document
// through a jupiter.Server per document.
//
// A device opens one stream per document and says Hello. The clone checks
// the certificate (same user, enrolled device name, the stream's peer is the
// device key it names) or answers Refuse. It then applies the device's
// in-flight edit, answers one Bundle, and streams every later change of the
// clone's text in order: remote updates as Op, the device's own edits as
// Ack, each only once durable in the clone.
//
// The engine (cloneservice) orders everything on its loop. Each document's
// hub attaches one observer (cloneservice.Service.Attach): it starts from
// the snapshot Attach returns and is called on the loop with every durable
// change of the clone's text (remote updates, reverts, the owner's own
// edits on the clone), so the history here always matches the clone's
// text. Device edits are transformed and proposed through the attachment,
// on the loop too, and are not reported back. Nothing is dropped on the
// way: a slow device reads the hub's history at its own pace, and only
// one that falls past its end (Params.History) gets a new bundle.
//
// Presence: a device's Selection (its caret on the hub's text at a
// version) is moved to the text now and handed to the engine
// (Attachment.SetCaret), which shares it with the members; the other
// members' carets come back through the observer (EventPresence), and each
// session sends the latest set as one Presence message once it has
// streamed the entries the set refers to, moved on to what it streamed.
// When a device's session ends its caret is cleared (ClearCaret).
//
// Each device's last applied edit counter is an engine meta record written
// in the same durable batch as the edit (EditFuncMeta), so the counters
// survive a clone restart, even kill -9, exactly in step with the text: a
// device whose edit was in flight then gets a snapshot saying whether to
// resend it, and the edit is applied once.
//
//	srv, err := server.New(h, svc, cert)   // cert: node.ReadOwnerCert(dataDir)
//	defer srv.Close()
package server
