package boxostore

import (
	"encoding/binary"
	"fmt"

	"github.com/clone2clone/c2c/replication"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

func syncMap() datastore.Batching { return dssync.MutexWrap(datastore.NewMapDatastore()) }

// maxCIDBytes caps an encoded CID in a Ref.
const maxCIDBytes = 64

// AppendRef appends ref's encoding: uvarint CID length, CID bytes,
// SHA-256[32], uvarint size.
func AppendRef(p []byte, ref Ref) []byte {
	b := ref.CID.Bytes()
	p = binary.AppendUvarint(p, uint64(len(b)))
	p = append(p, b...)
	p = append(p, ref.SHA256[:]...)
	return binary.AppendUvarint(p, ref.Size)
}

// ReadRef decodes a Ref at the start of p and returns the rest. The CID must
// be in the pinned profile.
func ReadRef(p []byte) (Ref, []byte, error) {
	var ref Ref
	n, k := binary.Uvarint(p)
	if k <= 0 || n == 0 || n > maxCIDBytes || uint64(len(p)-k) < n+32 {
		return ref, nil, fmt.Errorf("%w: ref", ErrCorrupt)
	}
	p = p[k:]
	c, err := cid.Cast(p[:n])
	if err != nil {
		return ref, nil, fmt.Errorf("%w: ref: %w", ErrCorrupt, err)
	}
	if _, err := HashOf(c); err != nil {
		return ref, nil, err
	}
	if string(c.Bytes()) != string(p[:n]) {
		return ref, nil, fmt.Errorf("%w: ref: non-canonical CID", ErrCorrupt)
	}
	ref.CID = c
	p = p[n:]
	copy(ref.SHA256[:], p[:32])
	p = p[32:]
	size, k := binary.Uvarint(p)
	if k <= 0 || size > 1<<40 {
		return ref, nil, fmt.Errorf("%w: ref size", ErrCorrupt)
	}
	ref.Size = size
	return ref, p[k:], nil
}

// Kinds remembers the codec of every block an app's Links named, so that a
// block arriving later (bytes only: a raw leaf can hold anything) is read as
// what its parent said it is. A resync asks for blocks top-down (a table
// bucket, then the roots it names, then their links), so the codec of every
// block is known before it arrives. Unknown blocks are the app's own table
// chunks.
type Kinds struct{ m map[replication.Hash]uint64 }

// Note records that c's block has c's codec.
func (k *Kinds) Note(c cid.Cid) {
	h, err := HashOf(c)
	if err != nil {
		return
	}
	if k.m == nil {
		k.m = map[replication.Hash]uint64{}
	}
	k.m[h] = c.Type()
}

// Links returns the links of chunk b if a parent named it as a block, and
// whether one did; the links are noted in turn.
func (k *Kinds) Links(b []byte) ([]replication.Hash, bool, error) {
	h := replication.HashChunk(b)
	codec, ok := k.m[h]
	if !ok {
		return nil, false, nil
	}
	links, err := Links(cid.NewCidV1(codec, CIDOf(h, codec).Hash()), b)
	if err != nil {
		return nil, true, err
	}
	out := make([]replication.Hash, len(links))
	for i, l := range links {
		k.Note(l)
		out[i], _ = HashOf(l)
	}
	return out, true, nil
}

// Reset forgets every noted block.
func (k *Kinds) Reset() { k.m = nil }
