package clonehost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/clone2clone/c2c/clonehost/bundle"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
)

// exportFiles are the files of a clone's directory that an export
// carries: what makes it this clone. The rest (control.sock, addrs,
// ready, the remembered listen ports, the stopped mark) belongs to the
// provider it runs on.
var exportFiles = []string{node.IdentityFile, node.HPKEKeyFile, node.OwnerCertFile, node.IndexFile, node.ContactsFile}

// ErrImport is wrapped by every refusal of an import's contents.
var ErrImport = errors.New("clonehost: import refused")

// Export stops clone name (Stop: it stays stopped here, so it takes no
// edit the export would miss) and writes its export to w: its identity,
// HPKE key, owner certificate, device index and contacts, and every
// entry under its datastore prefix (documents, device link state, mirror
// state), as a bundle. The export is the clone's secrets: whoever holds
// it can run the clone. Start undoes the stop if the import fails.
func (h *Host) Export(ctx context.Context, name string, w io.Writer) error {
	e, err := h.claim(name)
	if err != nil {
		return err
	}
	defer h.release(e)
	if err := h.stopLocked(e); err != nil {
		return err
	}
	bw, err := bundle.NewWriter(w)
	if err != nil {
		return err
	}
	dir := filepath.Join(h.dir, name)
	for _, f := range exportFiles {
		b, err := keystore.ReadFile(filepath.Join(dir, f))
		if errors.Is(err, keystore.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := bw.File(f, b); err != nil {
			return err
		}
	}
	res, err := h.shared.Sub(prefix(e.cert.Clone.String())).Query(ctx, query.Query{})
	if err != nil {
		return err
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return r.Error
		}
		if err := bw.Entry(r.Key, r.Value); err != nil {
			return err
		}
	}
	return bw.Close()
}

// verifyBundle checks that b is a whole clone, valid now: its owner
// certificate verifies and names the identity's peer ID and the HPKE
// key's public half; its device index, if any, is the same user's. It
// returns the certificate.
func verifyBundle(b *bundle.Bundle, now time.Time) (*dht.OwnerCert, error) {
	for _, f := range b.Files {
		if !slices.Contains(exportFiles, f.Name) {
			return nil, fmt.Errorf("%w: unexpected file %q", ErrImport, f.Name)
		}
	}
	certBytes := b.File(node.OwnerCertFile)
	if certBytes == nil {
		return nil, fmt.Errorf("%w: no owner certificate", ErrImport)
	}
	cert, err := dht.UnmarshalOwnerCert(certBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: owner certificate: %v", ErrImport, err)
	}
	if err := cert.Verify(now); err != nil {
		return nil, fmt.Errorf("%w: owner certificate: %v", ErrImport, err)
	}
	key, err := keystore.DecodePrivKey(b.File(node.IdentityFile))
	if err != nil {
		return nil, fmt.Errorf("%w: identity: %v", ErrImport, err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: identity: %v", ErrImport, err)
	}
	if id != cert.Clone {
		return nil, fmt.Errorf("%w: the owner certificate names clone %s, the identity is %s", ErrImport, cert.Clone, id)
	}
	_, pub, err := keystore.DecodeHPKEPrivKey(b.File(node.HPKEKeyFile))
	if err != nil {
		return nil, fmt.Errorf("%w: HPKE key: %v", ErrImport, err)
	}
	if !bytes.Equal(pub, cert.CloneHPKE) {
		return nil, fmt.Errorf("%w: the HPKE key is not the one the owner certificate names", ErrImport)
	}
	if ib := b.File(node.IndexFile); ib != nil {
		idx, err := dht.UnmarshalDeviceIndex(ib)
		if err != nil {
			return nil, fmt.Errorf("%w: device index: %v", ErrImport, err)
		}
		if idx.User != cert.User {
			return nil, fmt.Errorf("%w: the device index is user %s's, the certificate user %s's", ErrImport, idx.User, cert.User)
		}
	}
	if c := b.File(node.ContactsFile); c != nil {
		for _, line := range bytes.Split(c, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if i := bytes.IndexByte(line, '#'); i >= 0 {
				line = bytes.TrimSpace(line[:i])
			}
			if _, err := peer.Decode(string(line)); len(line) > 0 && err != nil {
				return nil, fmt.Errorf("%w: contacts: %q is not a user ID", ErrImport, line)
			}
		}
	}
	return cert, nil
}

// Import reads an export from r (within lim), verifies it whole before
// it writes anything, then persists it as clone name (its files in
// <clones dir>/name, its entries under its datastore prefix, synced)
// and starts it; the clone publishes its records from this provider.
// It refuses a name in use, a clone hosted here already and a host at
// its capacity.
func (h *Host) Import(ctx context.Context, name string, r io.Reader, lim bundle.Limits) error {
	if err := checkName(name); err != nil {
		return err
	}
	b, err := bundle.Decode(r, lim)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrImport, err)
	}
	cert, err := verifyBundle(b, time.Now())
	if err != nil {
		return err
	}
	h.mu.Lock()
	if err := h.admits(name, cert.Clone); err != nil {
		h.mu.Unlock()
		return err
	}
	e := &entry{name: name, cert: cert, busy: true}
	h.entries[name] = e
	h.mu.Unlock()
	if err := h.persist(ctx, name, cert.Clone.String(), b); err != nil {
		h.mu.Lock()
		delete(h.entries, name)
		h.mu.Unlock()
		return err
	}
	if err := h.run(ctx, e); err != nil {
		// Stored but not running: keep it stopped, so that a restart of
		// this provider does not run it too while the old one runs it
		// again (Migrate restarts it there when the import fails).
		_ = keystore.WriteFile(filepath.Join(h.dir, name, StoppedFile), []byte("import did not start\n"))
		return fmt.Errorf("clonehost: import %s: stored, but it did not start (left stopped here): %w", name, err)
	}
	return nil
}

// admits checks, under h.mu, that clone id may join as name.
func (h *Host) admits(name string, id peer.ID) error {
	if h.entries[name] != nil {
		return fmt.Errorf("%w: the name %s", ErrExists, name)
	}
	if _, err := os.Stat(filepath.Join(h.dir, name)); err == nil {
		return fmt.Errorf("%w: %s exists (not an enrolled clone: remove it or pick another name)", ErrExists, filepath.Join(h.dir, name))
	}
	if h.params.Capacity > 0 && len(h.entries) >= h.params.Capacity {
		return fmt.Errorf("%w: %d clones", ErrFull, h.params.Capacity)
	}
	for _, o := range h.entries {
		if o.cert.Clone == id {
			return fmt.Errorf("%w: clone %s is hosted as %s", ErrExists, id, o.name)
		}
	}
	return nil
}

// persist writes a verified bundle: the files into a staging directory,
// the entries under the clone's prefix (replacing what a cut-short import
// or a removed clone left there: no enrolled clone owns that prefix),
// synced, and last the rename that enrols it. A crash before the rename
// leaves no enrolled clone (Open clears the staging directory).
func (h *Host) persist(ctx context.Context, name, id string, b *bundle.Bundle) error {
	stage := filepath.Join(h.dir, importPrefix+name)
	_ = os.RemoveAll(stage)
	if err := os.MkdirAll(stage, 0o700); err != nil {
		return err
	}
	fail := func(err error) error { _ = os.RemoveAll(stage); return err }
	for _, f := range b.Files {
		if err := keystore.WriteFile(filepath.Join(stage, f.Name), f.Data); err != nil {
			return fail(err)
		}
	}
	if err := h.deletePrefix(ctx, id); err != nil {
		return fail(err)
	}
	ds := h.shared.Sub(prefix(id))
	batch, err := ds.Batch(ctx)
	if err != nil {
		return fail(err)
	}
	for _, en := range b.Entries {
		if err := batch.Put(ctx, datastore.NewKey(en.Key), en.Value); err != nil {
			return fail(err)
		}
	}
	if err := batch.Commit(ctx); err != nil {
		return fail(err)
	}
	if err := h.shared.Datastore().Sync(ctx, datastore.NewKey(prefix(id))); err != nil {
		return fail(err)
	}
	if err := os.Rename(stage, filepath.Join(h.dir, name)); err != nil {
		return fail(err)
	}
	return syncDir(h.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
