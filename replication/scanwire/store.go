package scanwire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/clone2clone/c2c/replication/scan"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// MaxSigFileBytes caps one signature file the provider keeps.
const MaxSigFileBytes = 256 << 20

var (
	storePrefix   = datastore.NewKey("/scan/sigs")
	manifestKey   = storePrefix.ChildString("manifest")
	sigFilePrefix = storePrefix.ChildString("files")
)

// A SigFile is one signature file: its base name (.hdb, .hsb or .ndb) and
// its bytes.
type SigFile struct {
	Name string
	Data []byte
}

// Store is the provider's signature database in its datastore: the
// signed manifest and the files it names.
type Store struct{ ds datastore.Batching }

// NewStore returns the store on ds.
func NewStore(ds datastore.Batching) *Store { return &Store{ds: ds} }

// Load returns the current manifest and files, each checked against the
// SHA-256 the manifest gives; with nothing stored, a nil manifest.
func (s *Store) Load(ctx context.Context) (*Manifest, []SigFile, error) {
	b, err := s.ds.Get(ctx, manifestKey)
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := UnmarshalManifest(b)
	if err != nil {
		return nil, nil, fmt.Errorf("stored manifest: %w", err)
	}
	files := make([]SigFile, 0, len(m.Files))
	for _, f := range m.Files {
		data, err := s.ds.Get(ctx, sigFilePrefix.ChildString(f.Name))
		if err != nil {
			return nil, nil, fmt.Errorf("stored signature file %s: %w", f.Name, err)
		}
		if sha256.Sum256(data) != f.SHA256 || uint64(len(data)) != f.Size {
			return nil, nil, fmt.Errorf("%w: stored signature file %s differs from its manifest", ErrMalformed, f.Name)
		}
		files = append(files, SigFile{f.Name, data})
	}
	return m, files, nil
}

// Parse parses files into one signature set; it counts the body
// signatures of other target types and of forms the scanner does not
// implement, which it skips (set.Skipped, set.Unsupported).
func Parse(files []SigFile) (*scan.SigSet, error) {
	var set scan.SigSet
	for _, f := range files {
		if err := scan.ParseFile(f.Name, bytes.NewReader(f.Data), &set); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	return &set, nil
}

// Compile parses files into a database of the given version.
func Compile(version uint64, files []SigFile) (*scan.DB, error) {
	set, err := Parse(files)
	if err != nil {
		return nil, err
	}
	return scan.NewDB(version, set)
}

// Add adds files to the database (a file of the same base name replaces
// the one stored), checks that the whole set parses and compiles, bumps
// the version, signs the new manifest with key and stores it all in one
// batch, synced. Nothing is written if any file is refused.
func (s *Store) Add(ctx context.Context, key crypto.PrivKey, add []SigFile) (*Manifest, error) {
	old, files, err := s.Load(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range add {
		f.Name = filepath.Base(f.Name)
		if !validName(f.Name) {
			return nil, fmt.Errorf("%w: file name %q", ErrMalformed, f.Name)
		}
		if len(f.Data) > MaxSigFileBytes {
			return nil, fmt.Errorf("%s: %d bytes, cap %d", f.Name, len(f.Data), MaxSigFileBytes)
		}
		i := slices.IndexFunc(files, func(g SigFile) bool { return g.Name == f.Name })
		if i >= 0 {
			files[i] = f
		} else {
			files = append(files, f)
		}
	}
	if len(files) > MaxManifestFiles {
		return nil, fmt.Errorf("%d signature files, cap %d", len(files), MaxManifestFiles)
	}
	m := &Manifest{Version: 1}
	if old != nil {
		m.Version = old.Version + 1
	}
	db, err := Compile(m.Version, files)
	if err != nil {
		return nil, err
	}
	h, b := db.Counts()
	m.HashSigs, m.BodySigs = uint64(h), uint64(b)
	for _, f := range files {
		m.Files = append(m.Files, FileSum{f.Name, sha256.Sum256(f.Data), uint64(len(f.Data))})
	}
	if err := m.Sign(key); err != nil {
		return nil, err
	}
	batch, err := s.ds.Batch(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range add {
		if err := batch.Put(ctx, sigFilePrefix.ChildString(filepath.Base(f.Name)), f.Data); err != nil {
			return nil, err
		}
	}
	if err := batch.Put(ctx, manifestKey, m.Marshal()); err != nil {
		return nil, err
	}
	if err := batch.Commit(ctx); err != nil {
		return nil, err
	}
	return m, s.ds.Sync(ctx, storePrefix)
}
