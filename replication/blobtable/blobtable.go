// Package blobtable is the state of an app whose records name blobs (files'
// entries, inbox attachments, outbox attachments): a table (package table)
// whose records each refer to zero or more boxostore blobs. It provides the
// replication.App state methods such an app needs: Root, Export (the
// table's buckets, then every blob's blocks), Links (bucket -> blob roots
// -> inner nodes -> leaves) and Import (every blob's blocks copied into the
// store before the records change), so a resync moves only the buckets and
// blocks that differ.
package blobtable

import (
	"errors"
	"fmt"
	"sort"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/table"
)

// RefsFunc validates one record and returns the blobs it names.
type RefsFunc func(key string, val []byte) ([]boxostore.Ref, error)

// Table is a table of records naming blobs kept in Store.
type Table struct {
	*table.Table
	Store *boxostore.Store
	// MayLack marks a table whose records may name blobs this store does
	// not hold yet (an inbox attachment delivered by reference, which the
	// device pulls from its clone when it wants it): Export and Import
	// skip a blob that neither store holds whole instead of failing. The
	// state hash covers the records, so it is the same either way.
	MayLack bool
	magic   byte
	buckets int
	refs    RefsFunc
	kinds   boxostore.Kinds
}

// New returns an empty table of n buckets (chunks begin with magic) whose
// records refs reads.
func New(store *boxostore.Store, magic byte, n int, refs RefsFunc) *Table {
	return &Table{Table: table.New(magic, n), Store: store, magic: magic, buckets: n, refs: refs}
}

// Refs returns every blob the records name, in key order.
func (t *Table) Refs() ([]boxostore.Ref, error) {
	var out []boxostore.Ref
	for _, k := range t.Keys() {
		v, _ := t.Get(k)
		rs, err := t.refs(k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// Export writes the buckets, then every blob's blocks, to dst.
func (t *Table) Export(dst replication.ChunkStore) (replication.Manifest, error) {
	m, err := t.Table.Export(dst)
	if err != nil {
		return nil, err
	}
	refs, err := t.Refs()
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		if err := t.Store.Export(r.CID, dst); err != nil && !(t.MayLack && errors.Is(err, replication.ErrChunkNotFound)) {
			return nil, fmt.Errorf("export blob %v: %w", r.CID, err)
		}
	}
	return m, nil
}

// Links returns what chunk refers to: a bucket its records' blob roots, a
// dag-pb node its children, a raw leaf nothing. Blocks are told apart by
// what their parent named them (boxostore.Kinds): a resync asks top-down.
func (t *Table) Links(chunk []byte) ([]replication.Hash, error) {
	if links, ok, err := t.kinds.Links(chunk); ok {
		return links, err
	}
	var out []replication.Hash
	err := t.Decode(chunk, -1, func(k string, v []byte) error {
		rs, err := t.refs(k, v)
		for _, r := range rs {
			t.kinds.Note(r.CID)
			h, _ := boxostore.HashOf(r.CID)
			out = append(out, h)
		}
		return err
	})
	return out, err
}

// Import replaces the records by those m and src describe, after copying
// every blob's blocks from src into the store; nothing changes on error.
func (t *Table) Import(m replication.Manifest, src replication.ChunkReader) error {
	nt := table.New(t.magic, t.buckets)
	var refs []boxostore.Ref
	err := nt.Import(m, src, func(k string, v []byte) error {
		rs, err := t.refs(k, v)
		refs = append(refs, rs...)
		return err
	})
	if err != nil {
		return err
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].CID.KeyString() < refs[j].CID.KeyString() })
	for _, r := range refs {
		if err := t.Store.Import(r.CID, src); err != nil && !(t.MayLack && errors.Is(err, replication.ErrChunkNotFound)) {
			return err
		}
	}
	t.Table = nt
	t.kinds.Reset()
	return nil
}
