// Package intern keeps one copy of equal byte strings that many parts of
// a process hold at once and never write to.
//
// A provider process hosts many clones, and the clones of one document
// each decode the same membership: every member's HPKE public key (an
// ML-KEM-768 key, 1.2 KB) and the document key wrapped to it (1.1 KB).
// In the N=1000 simulation, 999 clones in four documents of 250 held 600
// MB of such copies (docs/scale.md). Bytes returns the copy the process
// already holds, or keeps a new one.
//
// The table holds its copies weakly: a copy nobody references any more
// is collected, and its entry goes at the next sweep. Callers must treat
// what Bytes returns as read-only: it is shared.
package intern

import (
	"bytes"
	"hash/maphash"
	"sync"
	"unsafe"
	"weak"
)

// Table is a set of interned byte strings. The zero value is not usable;
// use New.
type Table struct {
	mu      sync.Mutex
	seed    maphash.Seed
	m       map[uint64][]entry
	entries int // entries in m, live or not
	sweepAt int // sweep dead entries when entries reaches this
}

type entry struct {
	first weak.Pointer[byte] // the copy's first byte: it keeps the entry's identity
	n     int
}

const minSweep = 1024

// New returns an empty table.
func New() *Table {
	return &Table{seed: maphash.MakeSeed(), m: map[uint64][]entry{}, sweepAt: minSweep}
}

var shared = New()

// Bytes is the process-wide table's Bytes.
func Bytes(b []byte) []byte { return shared.Bytes(b) }

// Bytes returns a read-only copy of b that equal calls share (nil for an
// empty b). Its capacity is its length, so an append copies.
func (t *Table) Bytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	h := maphash.Bytes(t.seed, b)
	t.mu.Lock()
	defer t.mu.Unlock()
	es := t.m[h]
	for _, e := range es {
		if p := e.first.Value(); p != nil && e.n == len(b) {
			if s := unsafe.Slice(p, e.n); bytes.Equal(s, b) {
				return s[:e.n:e.n]
			}
		}
	}
	c := make([]byte, len(b))
	copy(c, b)
	t.m[h] = append(es, entry{first: weak.Make(&c[0]), n: len(c)})
	t.entries++
	if t.entries >= t.sweepAt {
		t.sweep()
	}
	return c
}

// Len is the number of entries, some of which may be dead until the next
// sweep.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.entries
}

// sweep drops the entries whose copies were collected; the next sweep
// comes when the table has doubled, so sweeping costs O(1) per insert.
func (t *Table) sweep() {
	live := 0
	for h, es := range t.m {
		keep := es[:0]
		for _, e := range es {
			if e.first.Value() != nil {
				keep = append(keep, e)
			}
		}
		clear(es[len(keep):])
		if len(keep) == 0 {
			delete(t.m, h)
		} else {
			t.m[h] = keep
		}
		live += len(keep)
	}
	t.entries = live
	t.sweepAt = max(minSweep, 2*live)
}
