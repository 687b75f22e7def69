package clonehost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// StoppedFile, in a hosted clone's directory, marks a clone the operator
// stopped: the host lists it and does not start it, now or at its next
// start, until the operator starts it again.
const StoppedFile = "stopped"

// Errors of the admin operations.
var (
	ErrUnknown = errors.New("clonehost: no such hosted clone")
	ErrExists  = errors.New("clonehost: already hosted")
	ErrRunning = errors.New("clonehost: clone is running (stop it first)")
	ErrBusy    = errors.New("clonehost: another admin operation on this clone is under way")
	ErrFull    = errors.New("clonehost: the host is at its capacity (restart the provider with a larger --clone-capacity)")
	ErrName    = errors.New("clonehost: bad clone name")
)

// State is a hosted clone's state as the admin socket lists it.
type State string

// States.
const (
	Running State = "running"
	Stopped State = "stopped"
	Asleep  State = "asleep" // closed while idle, started again by traffic (sleep.go)
)

func isStopped(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, StoppedFile))
	return err == nil
}

// checkName accepts the names a clone's directory may have: [A-Za-z0-9._-],
// 1 to 64 bytes, not starting with a dot (dot names are imports under way).
func checkName(name string) error {
	if name == "" || len(name) > 64 || strings.HasPrefix(name, ".") ||
		strings.IndexFunc(name, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
		}) >= 0 {
		return fmt.Errorf("%w %q: want [A-Za-z0-9._-], 1 to 64 bytes, not starting with a dot", ErrName, name)
	}
	return nil
}

// claim marks the entry name busy for one operation (nil if there is no
// such clone); release ends it.
func (h *Host) claim(name string) (*entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entries[name]
	if e == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknown, name)
	}
	if e.busy {
		return nil, fmt.Errorf("%w: %s", ErrBusy, name)
	}
	e.busy = true
	return e, nil
}

func (h *Host) release(e *entry) {
	h.mu.Lock()
	e.busy = false
	h.mu.Unlock()
}

// Enrol starts hosting the clone enrolled in <clones dir>/name (c2c
// enroll --clone-data left its identity and owner certificate there)
// while the host runs.
func (h *Host) Enrol(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	cert, err := node.ReadOwnerCert(filepath.Join(h.dir, name))
	if err != nil {
		return fmt.Errorf("clonehost: enrol %s: %w (enroll it first with c2c enroll --clone-data %s)", name, err, filepath.Join(h.dir, name))
	}
	h.mu.Lock()
	switch {
	case h.entries[name] != nil:
		h.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrExists, name)
	case h.params.Capacity > 0 && len(h.entries) >= h.params.Capacity:
		h.mu.Unlock()
		return fmt.Errorf("%w: %d clones", ErrFull, h.params.Capacity)
	}
	for _, o := range h.entries {
		if o.cert.Clone == cert.Clone {
			h.mu.Unlock()
			return fmt.Errorf("%w: clone %s is hosted as %s", ErrExists, cert.Clone, o.name)
		}
	}
	e := &entry{name: name, cert: cert, busy: true}
	h.entries[name] = e
	h.mu.Unlock()
	_ = os.Remove(filepath.Join(h.dir, name, StoppedFile))
	if err := h.run(ctx, e); err != nil {
		h.mu.Lock()
		delete(h.entries, name)
		h.mu.Unlock()
		return err
	}
	return nil
}

// run starts e's clone (on its port again if it was asleep) and releases e.
func (h *Host) run(ctx context.Context, e *entry) error {
	defer h.release(e)
	h.unhold(e)
	c, err := h.start(ctx, e.name)
	if err != nil {
		return err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = c.close()
		return errors.New("clonehost: the host is closing")
	}
	e.clone = c
	h.watch(e)
	h.mu.Unlock()
	return nil
}

// Start starts the stopped or sleeping clone name again, with its state,
// and keeps it running across restarts of the host. Starting a running
// clone does nothing.
func (h *Host) Start(ctx context.Context, name string) error {
	e, err := h.claim(name)
	if err != nil {
		return err
	}
	if e.clone != nil {
		h.release(e)
		return nil
	}
	if err := h.run(ctx, e); err != nil {
		return err
	}
	// After it is up: a crash before this leaves it stopped, as it was.
	if err := os.Remove(filepath.Join(h.dir, name, StoppedFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Stop stops clone name: its host closes (its device link, documents and
// control socket with it; every acknowledged edit is already on disk),
// and it stays stopped across restarts of the host until Start. Its
// records are not withdrawn: they are signed by the user's key, which the
// provider does not hold. The DHT's copies stay until 48 h after each
// node received them (dht.MaxRecordAge; nothing republishes them
// meanwhile), the providers' replicas until the certificate's end of
// life. A lookup still finds the certificate; resolving the clone's
// address and dialing it fail. Stopping a stopped clone does nothing.
func (h *Host) Stop(name string) error {
	e, err := h.claim(name)
	if err != nil {
		return err
	}
	defer h.release(e)
	return h.stopLocked(e)
}

// stopLocked stops e, claimed by the caller.
func (h *Host) stopLocked(e *entry) error {
	dir := filepath.Join(h.dir, e.name)
	// First the mark, durably: a crash during the close leaves it stopped.
	if err := keystore.WriteFile(filepath.Join(dir, StoppedFile), []byte("stopped by the operator\n")); err != nil {
		return err
	}
	h.mu.Lock()
	c, stop, ready, asleep := e.clone, e.stop, e.ready, e.asleep != nil
	h.mu.Unlock()
	var err error
	switch {
	case c != nil:
		stop()
		<-ready // its markReady writes no ready file after the removal below
		err = c.close()
	case asleep: // closed already; its records and addresses still held for it
		h.unhold(e)
	default:
		return nil
	}
	if h.replica != nil {
		h.replica.Release(e.cert.Clone)
	}
	h.mu.Lock()
	e.clone = nil
	h.mu.Unlock()
	for _, f := range []string{ReadyFile, AddrsFile} {
		_ = os.Remove(filepath.Join(dir, f))
	}
	return err
}

// Remove deletes the stopped clone name: its data under its datastore
// prefix, then its directory (identity and keys included). It refuses a
// running clone. Use it on the old provider once a migrated clone runs on
// the new one.
func (h *Host) Remove(ctx context.Context, name string) error {
	e, err := h.claim(name)
	if err != nil {
		return err
	}
	defer h.release(e)
	if e.clone != nil || e.asleep != nil {
		return fmt.Errorf("%w: %s", ErrRunning, name)
	}
	if err := h.deletePrefix(ctx, e.cert.Clone.String()); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(h.dir, name)); err != nil {
		return err
	}
	h.mu.Lock()
	delete(h.entries, name)
	h.mu.Unlock()
	return nil
}

// prefix is the datastore prefix of the clone with peer ID id (string form).
func prefix(id string) string { return "/clones/" + id }

// deletePrefix deletes every key of clone id's datastore prefix, synced.
func (h *Host) deletePrefix(ctx context.Context, id string) error {
	ds := h.shared.Sub(prefix(id))
	res, err := ds.Query(ctx, query.Query{KeysOnly: true})
	if err != nil {
		return err
	}
	ents, err := res.Rest()
	if err != nil {
		return err
	}
	if len(ents) == 0 {
		return nil
	}
	b, err := ds.Batch(ctx)
	if err != nil {
		return err
	}
	for _, en := range ents {
		if err := b.Delete(ctx, datastore.NewKey(en.Key)); err != nil {
			return err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return err
	}
	return h.shared.Datastore().Sync(ctx, datastore.NewKey(prefix(id)))
}

// importPrefix starts the names of imports under way in the clones
// directory; Enrolled skips them.
const importPrefix = ".import-"

// clearImports removes what imports cut short by a crash left: their
// staging directories (their datastore entries, if any were written, are
// replaced by the next import of that clone).
func clearImports(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), importPrefix) {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}
