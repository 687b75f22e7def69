// Package syncclient is the device side of the mirror: the sync
// client. It runs a replication.Device over the device's apps, closes a
// signed batch every t_syn_int and sends it to its clone on
// /c2c/mirror/1.0.0, consumes the network inputs the clone relays, and
// answers the clone's resync requests.
//
// One event loop owns the Device. Every call that changes it (an input, a
// network input consumed, a tick that closed a batch, a resync step) is a
// record in a journal on the device's datastore, written and synced before
// the call returns to the user and before anything it caused is sent, so
// an input that Input acknowledged survives kill -9. On boot the journal is
// replayed into a fresh Device: being deterministic (Ed25519 signatures
// too), it closes the same batches again, and the Hello tells the clone
// where the device stands; the clone's Welcome tells which batches it
// already holds, and the device sends the rest.
package syncclient
