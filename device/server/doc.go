// Package server is the clone side of the device link (/c2c/device/1.0.0):
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
// The engine (cloneservice) orders everything on its loop: device edits are
// transformed and proposed inside EditFunc, and remote updates are taken from
// a subscription drained inside EditFunc too, so the history here always
// matches the clone's text. A second subscription only wakes the drainer.
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
