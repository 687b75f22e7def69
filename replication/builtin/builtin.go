// Package builtin is the app set that c2c's device and clone both run: a
// registry of the built-in deterministic apps, the same code on each side.
// A third party adds an app by registering it in the Registry it returns.
package builtin

import (
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/downloads"
	"github.com/clone2clone/c2c/replication/files"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/notes"
	"github.com/clone2clone/c2c/replication/outbox"
)

// Apps are the names of the apps a new device's mirror epoch runs, sorted.
var Apps = []string{downloads.Name, files.Name, inbox.Name, notes.Name, outbox.Name}

// Registry returns a registry holding every built-in app; the apps that
// keep blobs (downloads, files, inbox, outbox) keep them in store: the node's
// blockstore (the clone's pebble store, or the device's own).
func Registry(store *boxostore.Store) *replication.Registry {
	reg := replication.NewRegistry()
	for _, f := range []func(*replication.Registry) error{
		notes.Register,
		func(r *replication.Registry) error { return downloads.Register(r, store) },
		func(r *replication.Registry) error { return files.Register(r, store) },
		func(r *replication.Registry) error { return inbox.Register(r, store) },
		func(r *replication.Registry) error { return outbox.Register(r, store) },
	} {
		if err := f(reg); err != nil {
			panic(err) // a built-in registered twice: a broken invariant
		}
	}
	return reg
}
