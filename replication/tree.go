package replication

import (
	"crypto/sha256"
	"encoding/binary"
)

// Fanout is the Merkle tree's branching factor.
const Fanout = 16

// Manifest is an app's state as the ordered list of its chunks' hashes: the
// leaves of its Merkle tree. A zero Hash is an empty leaf with no chunk.
type Manifest []Hash

// Root returns the Merkle root of m, computed from scratch (the reference
// that Tree maintains incrementally).
func (m Manifest) Root() Hash {
	level := append([]Hash(nil), m...)
	for len(level) > 1 {
		next := make([]Hash, (len(level)+Fanout-1)/Fanout)
		for i := range next {
			next[i] = nodeHash(level[i*Fanout : min(len(level), (i+1)*Fanout)])
		}
		level = next
	}
	var top Hash
	if len(level) == 1 {
		top = level[0]
	}
	return rootHash(len(m), top)
}

func nodeHash(children []Hash) Hash {
	h := sha256.New()
	h.Write([]byte(tagNode))
	for i := range children {
		h.Write(children[i][:])
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

func rootHash(leaves int, top Hash) Hash {
	b := binary.AppendUvarint([]byte(tagRoot), uint64(leaves))
	return sha256.Sum256(append(b, top[:]...))
}

// Tree is a Merkle tree with a fixed number of leaves that recomputes only
// the paths above the leaves set since the last Root: an app marks the chunk
// an event touched, and the state hash costs O(changed chunks * depth), not a
// rehash of the state.
type Tree struct {
	levels [][]Hash // levels[0] are the leaves; the last level has one node
	dirty  [][]int  // per level, indices whose parents must be recomputed
	mark   [][]bool
	root   Hash
	stale  bool
}

// NewTree returns a tree of n empty leaves (at least one).
func NewTree(n int) *Tree {
	n = max(n, 1)
	t := &Tree{stale: true}
	for size := n; ; size = (size + Fanout - 1) / Fanout {
		t.levels = append(t.levels, make([]Hash, size))
		t.dirty = append(t.dirty, nil)
		t.mark = append(t.mark, make([]bool, size))
		if size == 1 {
			break
		}
	}
	// Every inner node starts out computed over empty leaves.
	for l := 1; l < len(t.levels); l++ {
		below := t.levels[l-1]
		for i := range t.levels[l] {
			t.levels[l][i] = nodeHash(below[i*Fanout : min(len(below), (i+1)*Fanout)])
		}
	}
	return t
}

// Len returns the number of leaves.
func (t *Tree) Len() int { return len(t.levels[0]) }

// Leaf returns leaf i.
func (t *Tree) Leaf(i int) Hash { return t.levels[0][i] }

// Leaves returns a copy of the leaves: the manifest.
func (t *Tree) Leaves() Manifest { return append(Manifest(nil), t.levels[0]...) }

// Set sets leaf i to h.
func (t *Tree) Set(i int, h Hash) {
	if t.levels[0][i] == h {
		return
	}
	t.levels[0][i] = h
	t.touch(0, i)
}

func (t *Tree) touch(l, i int) {
	t.stale = true
	if !t.mark[l][i] {
		t.mark[l][i] = true
		t.dirty[l] = append(t.dirty[l], i)
	}
}

// Root returns the Merkle root, equal to t.Leaves().Root().
func (t *Tree) Root() Hash {
	if !t.stale {
		return t.root
	}
	top := len(t.levels) - 1
	for l := 0; l <= top; l++ {
		below := t.levels[l]
		for _, i := range t.dirty[l] {
			t.mark[l][i] = false
			if l == top {
				continue
			}
			if p := i / Fanout; !t.mark[l+1][p] {
				t.levels[l+1][p] = nodeHash(below[p*Fanout : min(len(below), (p+1)*Fanout)])
				t.touch(l+1, p)
			}
		}
		t.dirty[l] = t.dirty[l][:0]
	}
	t.root = rootHash(len(t.levels[0]), t.levels[top][0])
	t.stale = false
	return t.root
}
