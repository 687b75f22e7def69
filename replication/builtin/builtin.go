// Package builtin is the app set that c2c's device and clone both run: a
// registry of the built-in deterministic apps, the same code on each side.
// A third party adds an app by registering it in the Registry it returns.
package builtin

import (
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/notes"
)

// Apps are the names of the apps a new device's mirror epoch runs, sorted.
var Apps = []string{notes.Name}

// Registry returns a registry holding every built-in app.
func Registry() *replication.Registry {
	reg := replication.NewRegistry()
	for _, f := range []func(*replication.Registry) error{notes.Register} {
		if err := f(reg); err != nil {
			panic(err) // a built-in registered twice: a broken invariant
		}
	}
	return reg
}
