// Package files is the built-in file store app of the mirror (DESIGN 6):
// put, write at an offset, rename, delete and mkdir, the same deterministic
// code on the device and on the mirror.
//
// File content is chunked and content-addressed by boxostore (boxo's
// chunker and unixfs importer over a blockstore on the node's datastore,
// under one pinned profile), so identical files are stored once per store.
// Each file's entry keeps its unixfs root CID with the SHA-256 of the whole
// content and its size. The app's state is a table (package table) of
// entries by path; its chunks for a resync are the table's buckets and,
// below them, the files' very blocks (Links walks bucket -> root -> leaves),
// so a resync moves only the buckets and blocks that differ.
package files

import (
	"errors"
	"fmt"
	"strings"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobtable"
	"github.com/clone2clone/c2c/replication/boxostore"
)

// Name is the app's registered name.
const Name = "files"

// Limits.
const (
	Buckets      = 64
	MaxPathBytes = 1024
	MaxFileBytes = 64 << 20
)

// Errors. A failed operation leaves the state unchanged.
var (
	// ErrBadOp: a payload that is not a valid operation, or one that does
	// not apply (an offset past the end, a file too large).
	ErrBadOp = errors.New("files: invalid operation")
	// ErrBadPath: a malformed path.
	ErrBadPath = errors.New("files: invalid path")
	// ErrNotFound: no such file or directory.
	ErrNotFound = errors.New("files: no such file or directory")
	// ErrExists: the target exists (mkdir, rename), or is of the other kind.
	ErrExists = errors.New("files: file exists")
	// ErrNoParent: the parent directory does not exist.
	ErrNoParent = errors.New("files: parent directory does not exist")
	// ErrMissingBlob: a put by reference whose blob the store does not
	// hold whole (upload it first). On a mirror it means the upload did not
	// precede the batch: the op is refused here and not on the device, the
	// state hashes differ, and the divergence resync moves the blocks.
	ErrMissingBlob = errors.New("files: blob not in the store (upload it first)")
)

// Register adds the files app to reg; every instance keeps its content in store.
func Register(reg *replication.Registry, store *boxostore.Store) error {
	return reg.Register(Name, func() replication.App { return New(store) })
}

// App is the files app's state. It implements replication.App.
type App struct {
	*blobtable.Table // Root, Export, Links and Import
	store            *boxostore.Store
}

var _ replication.App = (*App)(nil)

// New returns an empty file store on store.
func New(store *boxostore.Store) *App {
	return &App{Table: blobtable.New(store, 'F', Buckets, refsOf), store: store}
}

// refsOf validates an entry record and returns the blob it names.
func refsOf(path string, v []byte) ([]boxostore.Ref, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	e, err := decodeEntry(v)
	if err != nil || e.Dir {
		return nil, err
	}
	return []boxostore.Ref{e.Ref}, nil
}

// Stat returns the entry at path.
func (a *App) Stat(path string) (Entry, bool) {
	v, ok := a.Get(path)
	if !ok {
		return Entry{}, false
	}
	e, err := decodeEntry(v)
	return e, err == nil
}

// Listed is one entry of a listing.
type Listed struct {
	Path string
	Entry
}

// List returns every entry, sorted by path.
func (a *App) List() []Listed {
	keys := a.Keys()
	out := make([]Listed, 0, len(keys))
	for _, k := range keys {
		e, _ := a.Stat(k)
		out = append(out, Listed{Path: k, Entry: e})
	}
	return out
}

// Read returns a file's content, checked against its SHA-256.
func (a *App) Read(path string) ([]byte, error) {
	e, ok := a.Stat(path)
	if !ok || e.Dir {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, path)
	}
	return a.store.Read(e.Ref)
}

func parent(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return ""
}

func (a *App) checkParent(path string) error {
	p := parent(path)
	if p == "" {
		return nil
	}
	if e, ok := a.Stat(p); !ok || !e.Dir {
		return fmt.Errorf("%w: %q", ErrNoParent, p)
	}
	return nil
}

// under returns path and every key below it, sorted.
func (a *App) under(path string) []string {
	var out []string
	for _, k := range a.Keys() {
		if k == path || strings.HasPrefix(k, path+"/") {
			out = append(out, k)
		}
	}
	return out
}

// Apply implements replication.App.
func (a *App) Apply(ev *replication.Event) ([]replication.Output, error) {
	o, err := parseOp(ev.Payload)
	if err != nil {
		return nil, err
	}
	old, exists := a.Stat(o.path)
	switch o.kind {
	case opPut:
		if exists && old.Dir {
			return nil, fmt.Errorf("%w: %q is a directory", ErrExists, o.path)
		}
		return nil, a.putFile(o.path, o.data, ev.Time)
	case opPutRef:
		if exists && old.Dir {
			return nil, fmt.Errorf("%w: %q is a directory", ErrExists, o.path)
		}
		return nil, a.putRef(o.path, o.ref, ev.Time)
	case opWrite:
		var content []byte
		if exists {
			if old.Dir {
				return nil, fmt.Errorf("%w: %q is a directory", ErrExists, o.path)
			}
			if content, err = a.store.Read(old.Ref); err != nil {
				return nil, err
			}
		}
		if o.off > uint64(len(content)) {
			return nil, fmt.Errorf("%w: offset %d past the end (%d)", ErrBadOp, o.off, len(content))
		}
		end := o.off + uint64(len(o.data))
		if end > MaxFileBytes {
			return nil, fmt.Errorf("%w: file would be %d bytes, cap %d", ErrBadOp, end, MaxFileBytes)
		}
		if end > uint64(len(content)) {
			content = append(content, make([]byte, end-uint64(len(content)))...)
		}
		copy(content[o.off:], o.data)
		return nil, a.putFile(o.path, content, ev.Time)
	case opMkdir:
		if exists {
			return nil, fmt.Errorf("%w: %q", ErrExists, o.path)
		}
		if err := a.checkParent(o.path); err != nil {
			return nil, err
		}
		return nil, a.Put(o.path, Entry{Dir: true, MTime: ev.Time}.encode())
	case opDelete:
		if !exists {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, o.path)
		}
		for _, k := range a.under(o.path) {
			a.Delete(k)
		}
		return nil, nil
	case opRename:
		return nil, a.rename(o.path, o.to, exists)
	}
	return nil, fmt.Errorf("%w: kind %#x", ErrBadOp, o.kind)
}

func (a *App) putFile(path string, content []byte, now replication.Time) error {
	if len(content) > MaxFileBytes {
		return fmt.Errorf("%w: file of %d bytes, cap %d", ErrBadOp, len(content), MaxFileBytes)
	}
	if err := a.checkParent(path); err != nil {
		return err
	}
	ref, err := a.store.Add(content)
	if err != nil {
		return err
	}
	return a.Put(path, Entry{Ref: ref, MTime: now}.encode())
}

func (a *App) putRef(path string, ref boxostore.Ref, now replication.Time) error {
	if ref.Size > MaxFileBytes {
		return fmt.Errorf("%w: file of %d bytes, cap %d", ErrBadOp, ref.Size, MaxFileBytes)
	}
	if err := a.checkParent(path); err != nil {
		return err
	}
	if err := a.store.Complete(ref); err != nil {
		return fmt.Errorf("%w: %v: %w", ErrMissingBlob, ref.CID, err)
	}
	return a.Put(path, Entry{Ref: ref, MTime: now}.encode())
}

func (a *App) rename(from, to string, exists bool) error {
	switch {
	case !exists:
		return fmt.Errorf("%w: %q", ErrNotFound, from)
	case from == to || strings.HasPrefix(to, from+"/"):
		return fmt.Errorf("%w: cannot move %q into itself", ErrBadOp, from)
	}
	if _, ok := a.Get(to); ok {
		return fmt.Errorf("%w: %q", ErrExists, to)
	}
	if err := a.checkParent(to); err != nil {
		return err
	}
	keys := a.under(from)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i], _ = a.Get(k)
		if err := a.Check(to+k[len(from):], vals[i]); err != nil {
			return err
		}
	}
	for i, k := range keys {
		a.Delete(k)
		_ = a.Put(to+k[len(from):], vals[i]) // checked above
	}
	return nil
}
