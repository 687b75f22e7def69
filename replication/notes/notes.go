// Package notes is a built-in deterministic replication app: a store of
// named notes (key -> bytes, with the device time of their last change) that
// the user edits by whole puts, inserts and cuts at an offset, and deletes.
//
// Its state is split into Buckets chunks by a fixed hash of the key; each
// non-empty bucket is one content-addressed chunk (its notes sorted by key),
// and the app's root is the Merkle root over the bucket hashes. An edit
// marks its bucket; Root re-encodes and rehashes only the marked buckets, so
// a resync moves only the buckets that differ.
package notes

import (
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/replication"
)

// Name is the app's registered name.
const Name = "notes"

// Limits of one note.
const (
	Buckets       = 64
	MaxKeyBytes   = 255
	MaxValueBytes = 1 << 20
)

// ErrBadOp: a payload that is not a valid operation, or one that does not
// apply (an offset past the end, a note too large). The state is unchanged.
var ErrBadOp = errors.New("notes: invalid operation")

// Register adds the notes app to reg.
func Register(reg *replication.Registry) error {
	return reg.Register(Name, func() replication.App { return New() })
}

type note struct {
	val   []byte
	mtime replication.Time
}

// App is the notes app's state. It implements replication.App.
type App struct {
	buckets [Buckets]map[string]*note
	chunks  [Buckets][]byte // encoded bucket, valid unless dirty
	dirty   [Buckets]bool
	anyDirt bool
	tree    *replication.Tree
}

var _ replication.App = (*App)(nil)

// New returns an empty notes app.
func New() *App {
	a := &App{tree: replication.NewTree(Buckets)}
	for i := range a.buckets {
		a.buckets[i] = map[string]*note{}
	}
	return a
}

func bucketOf(key []byte) int {
	h := uint32(2166136261) // FNV-1a: fixed, so every replica buckets alike
	for _, c := range key {
		h ^= uint32(c)
		h *= 16777619
	}
	return int(h % Buckets)
}

// Get returns a note's content (do not modify) and whether it exists.
func (a *App) Get(key string) ([]byte, bool) {
	n, ok := a.buckets[bucketOf([]byte(key))][key]
	if !ok {
		return nil, false
	}
	return n.val, true
}

// Len returns the number of notes.
func (a *App) Len() int {
	n := 0
	for _, b := range a.buckets {
		n += len(b)
	}
	return n
}

// Apply implements replication.App.
func (a *App) Apply(ev *replication.Event) ([]replication.Output, error) {
	op, err := parseOp(ev.Payload)
	if err != nil {
		return nil, err
	}
	bi := bucketOf(op.key)
	bucket := a.buckets[bi]
	n := bucket[string(op.key)]
	switch op.kind {
	case opPut:
		if n == nil {
			n = &note{}
			bucket[string(op.key)] = n
		}
		n.val = append(n.val[:0], op.text...)
	case opDelete:
		if n == nil {
			return nil, nil
		}
		delete(bucket, string(op.key))
	case opInsert:
		if err := checkEdit(n, op, uint64(len(op.text))); err != nil {
			return nil, err
		}
		if n == nil {
			n = &note{}
			bucket[string(op.key)] = n
		}
		k := len(op.text)
		n.val = append(n.val, op.text...)
		copy(n.val[int(op.off)+k:], n.val[op.off:len(n.val)-k])
		copy(n.val[op.off:], op.text)
	case opCut:
		if err := checkEdit(n, op, 0); err != nil {
			return nil, err
		}
		n.val = append(n.val[:op.off], n.val[op.off+op.n:]...)
	}
	if n != nil {
		n.mtime = ev.Time
	}
	a.dirty[bi], a.anyDirt = true, true
	return nil, nil
}

func checkEdit(n *note, op op, grow uint64) error {
	size := uint64(0)
	if n != nil {
		size = uint64(len(n.val))
	}
	switch {
	case op.off > size:
		return fmt.Errorf("%w: offset %d past the end (%d)", ErrBadOp, op.off, size)
	case op.kind == opCut && op.n > size-op.off:
		return fmt.Errorf("%w: cut %d at %d of %d", ErrBadOp, op.n, op.off, size)
	case op.kind == opCut && n == nil:
		return fmt.Errorf("%w: cut from a missing note", ErrBadOp)
	case size+grow > MaxValueBytes:
		return fmt.Errorf("%w: note would be %d bytes, cap %d", ErrBadOp, size+grow, MaxValueBytes)
	}
	return nil
}

// Root implements replication.App: only the buckets changed since the last
// call are re-encoded and rehashed.
func (a *App) Root() replication.Hash {
	if a.anyDirt {
		for i := range a.dirty {
			if a.dirty[i] {
				a.dirty[i] = false
				a.chunks[i] = encodeBucket(a.buckets[i])
				var h replication.Hash
				if a.chunks[i] != nil {
					h = replication.HashChunk(a.chunks[i])
				}
				a.tree.Set(i, h)
			}
		}
		a.anyDirt = false
	}
	return a.tree.Root()
}

// Export implements replication.App.
func (a *App) Export(dst replication.ChunkStore) (replication.Manifest, error) {
	a.Root()
	for _, c := range a.chunks {
		if c != nil {
			if _, err := dst.Put(c); err != nil {
				return nil, err
			}
		}
	}
	return a.tree.Leaves(), nil
}

// Links implements replication.App: bucket chunks refer to no others.
func (a *App) Links([]byte) ([]replication.Hash, error) { return nil, nil }

// Import implements replication.App. The state changes only if every chunk decodes.
func (a *App) Import(m replication.Manifest, src replication.ChunkReader) error {
	if len(m) != Buckets {
		return fmt.Errorf("%w: manifest of %d chunks, want %d", ErrBadOp, len(m), Buckets)
	}
	var buckets [Buckets]map[string]*note
	var chunks [Buckets][]byte
	for i, h := range m {
		buckets[i] = map[string]*note{}
		if h.IsZero() {
			continue
		}
		c, err := src.Get(h)
		if err != nil {
			return err
		}
		if replication.HashChunk(c) != h {
			return fmt.Errorf("%w: chunk %v does not hash to its address", ErrBadOp, h)
		}
		if err := decodeBucket(c, i, buckets[i]); err != nil {
			return err
		}
		chunks[i] = append([]byte(nil), c...)
	}
	a.buckets, a.chunks = buckets, chunks
	for i, h := range m {
		a.dirty[i] = false
		a.tree.Set(i, h)
	}
	a.anyDirt = false
	return nil
}
