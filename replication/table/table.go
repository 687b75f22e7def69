// Package table is the state layout the built-in record apps share (files,
// inbox, outbox): a map from string keys to encoded records, split into a
// fixed number of buckets by a fixed hash of the key. Each non-empty bucket
// is one content-addressed chunk (its records sorted by key) and the app's
// root is the Merkle root over the bucket hashes, kept by a
// replication.Tree: a change re-encodes and rehashes only its bucket, and a
// resync moves only the buckets that differ.
//
// Bucket chunk: magic byte, uvarint count, then per record in key order:
// uvarint key length, key, uvarint value length, value. An empty bucket has
// no chunk. Decoding checks that every key belongs to its bucket and that
// keys ascend, so the encoding of a state is unique.
package table

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/clone2clone/c2c/replication"
)

// Limits of one record.
const (
	MaxKeyBytes   = 1024
	MaxValueBytes = 64 << 10
)

// Errors.
var (
	// ErrMalformed: a bucket chunk that does not decode canonically.
	ErrMalformed = errors.New("table: malformed bucket")
	// ErrFull: a record too large, or a bucket that would outgrow a chunk.
	ErrFull = errors.New("table: record or bucket too large")
)

// Table is a bucketed, incrementally hashed map. The zero value is not
// usable; call New.
type Table struct {
	magic   byte
	buckets []map[string][]byte
	sizes   []int // encoded size of each bucket, an upper bound
	chunks  [][]byte
	dirty   []bool
	anyDirt bool
	tree    *replication.Tree
	n       int
}

// New returns an empty table of n buckets whose chunks begin with magic.
func New(magic byte, n int) *Table {
	t := &Table{magic: magic, buckets: make([]map[string][]byte, n), sizes: make([]int, n),
		chunks: make([][]byte, n), dirty: make([]bool, n), tree: replication.NewTree(n)}
	for i := range t.buckets {
		t.buckets[i] = map[string][]byte{}
	}
	return t
}

func (t *Table) bucketOf(key string) int {
	h := uint32(2166136261) // FNV-1a: fixed, so every replica buckets alike
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(len(t.buckets)))
}

// Len returns the number of records.
func (t *Table) Len() int { return t.n }

// Get returns the record under key (do not modify) and whether it exists.
func (t *Table) Get(key string) ([]byte, bool) {
	v, ok := t.buckets[t.bucketOf(key)][key]
	return v, ok
}

// Check reports whether Put(key, val) would succeed, without changing anything.
func (t *Table) Check(key string, val []byte) error {
	if len(key) == 0 || len(key) > MaxKeyBytes || len(val) > MaxValueBytes {
		return fmt.Errorf("%w: key of %d bytes, value of %d", ErrFull, len(key), len(val))
	}
	b := t.bucketOf(key)
	size := t.sizes[b] + recordSize(key, val)
	if old, ok := t.buckets[b][key]; ok {
		size -= recordSize(key, old)
	}
	if size > replication.MaxChunkBytes-16 {
		return fmt.Errorf("%w: bucket %d would be %d bytes", ErrFull, b, size)
	}
	return nil
}

func recordSize(key string, val []byte) int { return len(key) + len(val) + 2*binary.MaxVarintLen32 }

// Put sets key to val (the table keeps val: do not modify it afterwards).
func (t *Table) Put(key string, val []byte) error {
	if err := t.Check(key, val); err != nil {
		return err
	}
	b := t.bucketOf(key)
	if old, ok := t.buckets[b][key]; ok {
		t.sizes[b] -= recordSize(key, old)
	} else {
		t.n++
	}
	t.buckets[b][key] = val
	t.sizes[b] += recordSize(key, val)
	t.dirty[b], t.anyDirt = true, true
	return nil
}

// Delete removes key and reports whether it was there.
func (t *Table) Delete(key string) bool {
	b := t.bucketOf(key)
	old, ok := t.buckets[b][key]
	if !ok {
		return false
	}
	delete(t.buckets[b], key)
	t.sizes[b] -= recordSize(key, old)
	t.n--
	t.dirty[b], t.anyDirt = true, true
	return true
}

// Keys returns every key, sorted.
func (t *Table) Keys() []string {
	keys := make([]string, 0, t.n)
	for _, b := range t.buckets {
		for k := range b {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Root returns the Merkle root over the bucket chunks; only buckets changed
// since the last call are re-encoded and rehashed.
func (t *Table) Root() replication.Hash {
	if t.anyDirt {
		for i := range t.dirty {
			if t.dirty[i] {
				t.dirty[i] = false
				t.chunks[i] = t.encode(i)
				var h replication.Hash
				if t.chunks[i] != nil {
					h = replication.HashChunk(t.chunks[i])
				}
				t.tree.Set(i, h)
			}
		}
		t.anyDirt = false
	}
	return t.tree.Root()
}

func (t *Table) encode(i int) []byte {
	b := t.buckets[i]
	if len(b) == 0 {
		return nil
	}
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	p := append(make([]byte, 0, t.sizes[i]+8), t.magic)
	p = binary.AppendUvarint(p, uint64(len(keys)))
	for _, k := range keys {
		p = binary.AppendUvarint(p, uint64(len(k)))
		p = append(p, k...)
		p = binary.AppendUvarint(p, uint64(len(b[k])))
		p = append(p, b[k]...)
	}
	return p
}

// Export writes every bucket chunk to dst and returns the manifest.
func (t *Table) Export(dst replication.ChunkStore) (replication.Manifest, error) {
	t.Root()
	for _, c := range t.chunks {
		if c != nil {
			if _, err := dst.Put(c); err != nil {
				return nil, err
			}
		}
	}
	return t.tree.Leaves(), nil
}

// IsBucket reports whether c begins like one of this table's bucket chunks.
func (t *Table) IsBucket(c []byte) bool { return len(c) > 1 && c[0] == t.magic }

// Decode calls f for every record of bucket chunk c, in key order. With
// index >= 0 it also checks that every key belongs to bucket index.
func (t *Table) Decode(c []byte, index int, f func(key string, val []byte) error) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }
	if !t.IsBucket(c) {
		return bad("format")
	}
	rest := c[1:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return 0, false
		}
		rest = rest[n:]
		return v, true
	}
	count, ok := uv()
	if !ok || count == 0 || count > uint64(len(rest)) {
		return bad("count")
	}
	prev := ""
	for i := uint64(0); i < count; i++ {
		klen, ok := uv()
		if !ok || klen == 0 || klen > MaxKeyBytes || klen > uint64(len(rest)) {
			return bad("key")
		}
		key := string(rest[:klen])
		rest = rest[klen:]
		if (i > 0 && key <= prev) || (index >= 0 && t.bucketOf(key) != index) {
			return bad("key order")
		}
		vlen, ok := uv()
		if !ok || vlen > MaxValueBytes || vlen > uint64(len(rest)) {
			return bad("value")
		}
		if err := f(key, rest[:vlen:vlen]); err != nil {
			return err
		}
		rest = rest[vlen:]
		prev = key
	}
	if len(rest) != 0 {
		return bad("trailing bytes")
	}
	return nil
}

// Import replaces the table by the one manifest m and the chunks in src
// describe; check vets every record first. The table changes only if every
// chunk decodes and every record passes.
func (t *Table) Import(m replication.Manifest, src replication.ChunkReader, check func(key string, val []byte) error) error {
	if len(m) != len(t.buckets) {
		return fmt.Errorf("%w: manifest of %d chunks, want %d", ErrMalformed, len(m), len(t.buckets))
	}
	nt := New(t.magic, len(t.buckets))
	for i, h := range m {
		if h.IsZero() {
			continue
		}
		c, err := src.Get(h)
		if err != nil {
			return err
		}
		if replication.HashChunk(c) != h {
			return fmt.Errorf("%w: chunk %v does not hash to its address", ErrMalformed, h)
		}
		err = t.Decode(c, i, func(key string, val []byte) error {
			if check != nil {
				if err := check(key, val); err != nil {
					return err
				}
			}
			v := append([]byte(nil), val...)
			nt.buckets[i][key] = v
			nt.sizes[i] += recordSize(key, v)
			nt.n++
			return nil
		})
		if err != nil {
			return err
		}
		nt.chunks[i] = append([]byte(nil), c...)
		nt.tree.Set(i, h)
	}
	*t = *nt
	return nil
}
