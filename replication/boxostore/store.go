// Package boxostore is the content-addressed blob store of the mirror's apps,
// beside the pure replication core: a boxo blockstore on the node's
// datastore (the clone's pebble store on the mirror, the device's own store
// on the phone), files chunked and laid out with boxo's chunker and unixfs
// importer and read back with its DagReader.
//
// One pinned profile makes the layout of a given content unique, so that
// identical files are stored once per provider: fixed-size chunks of
// ChunkSize bytes, raw leaves, CIDv1 dag-pb inner nodes with MaxLinks links
// each, sha2-256, no mode or mtime in the unixfs nodes. With sha2-256 a
// block's CID digest is the SHA-256 of its bytes, which is the replication
// core's chunk hash, so Store is also a replication.ChunkStore: the blocks
// of a file are the chunks a resync moves. A unixfs root CID is not a file
// hash, so every Ref carries the whole content's SHA-256 beside its CID.
package boxostore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/clone2clone/c2c/replication"
	blockservice "github.com/ipfs/boxo/blockservice"
	blockstore "github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// The pinned profile. Changing any of these changes every CID: it is a new
// profile, not a tuning knob.
const (
	ChunkSize = 256 << 10 // fixed-size chunks
	MaxLinks  = 174       // links per inner node (boxo's default)
	// MaxBlockBytes caps one block read from a stranger (a leaf or an inner node).
	MaxBlockBytes = ChunkSize + 64<<10
)

// Errors.
var (
	// ErrNotFound: a block the store does not hold (wraps replication.ErrChunkNotFound).
	ErrNotFound = fmt.Errorf("boxostore: %w", replication.ErrChunkNotFound)
	// ErrProfile: a CID outside the pinned profile (not CIDv1, sha2-256, raw or dag-pb).
	ErrProfile = errors.New("boxostore: CID outside the pinned profile")
	// ErrCorrupt: a block that does not hash to its address, or a DAG that does not decode.
	ErrCorrupt = errors.New("boxostore: corrupt block")
)

// Ref names a blob: its unixfs root CID, the SHA-256 of its whole content
// and its size.
type Ref struct {
	CID    cid.Cid
	SHA256 [32]byte
	Size   uint64
}

var builder = cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256}

// Store is a blockstore under the pinned profile. It implements
// replication.ChunkStore.
type Store struct {
	ds  datastore.Batching
	bs  blockstore.Blockstore
	dag ipld.DAGService
}

var _ replication.ChunkStore = (*Store)(nil)

// New returns the store on d (its blocks live under boxo's /blocks prefix).
func New(d datastore.Batching) *Store {
	bs := blockstore.NewBlockstore(d)
	return &Store{ds: d, bs: bs, dag: merkledag.NewDAGService(blockservice.New(bs, nil))}
}

// NewMem returns a store on an in-memory datastore (tests, the benchmark).
func NewMem() *Store { return New(syncMap()) }

// Sync makes every block put so far durable (the datastore's Sync of the
// blocks prefix: one WAL fsync on pebble), before a transfer acknowledges them.
func (s *Store) Sync() error { return s.ds.Sync(context.Background(), datastore.NewKey("/blocks")) }

// Blockstore returns the boxo blockstore underneath.
func (s *Store) Blockstore() blockstore.Blockstore { return s.bs }

// CIDOf returns the CID of a block of hash h under the profile's codec c
// (cid.Raw or cid.DagProtobuf).
func CIDOf(h replication.Hash, c uint64) cid.Cid {
	d, _ := mh.Encode(h[:], mh.SHA2_256) // cannot fail for a 32-byte sha2-256 digest
	return cid.NewCidV1(c, d)
}

// HashOf returns the chunk hash of a CID in the profile.
func HashOf(c cid.Cid) (replication.Hash, error) {
	var h replication.Hash
	if !c.Defined() || c.Version() != 1 || (c.Type() != cid.Raw && c.Type() != cid.DagProtobuf) {
		return h, fmt.Errorf("%w: %v", ErrProfile, c)
	}
	d, err := mh.Decode(c.Hash())
	if err != nil || d.Code != mh.SHA2_256 || len(d.Digest) != len(h) {
		return h, fmt.Errorf("%w: %v", ErrProfile, c)
	}
	copy(h[:], d.Digest)
	return h, nil
}

// Get implements replication.ChunkReader.
func (s *Store) Get(h replication.Hash) ([]byte, error) {
	b, err := s.bs.Get(context.Background(), CIDOf(h, cid.Raw))
	if ipld.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, h)
	}
	if err != nil {
		return nil, err
	}
	return b.RawData(), nil
}

// Has implements replication.ChunkStore.
func (s *Store) Has(h replication.Hash) (bool, error) {
	return s.bs.Has(context.Background(), CIDOf(h, cid.Raw))
}

// Put implements replication.ChunkStore: the blockstore keys blocks by
// multihash, so a block put as raw bytes serves a dag-pb CID of the same
// digest too.
func (s *Store) Put(b []byte) (replication.Hash, error) {
	h := replication.HashChunk(b)
	blk, err := blocks.NewBlockWithCid(b, CIDOf(h, cid.Raw))
	if err != nil {
		return h, err
	}
	return h, s.bs.Put(context.Background(), blk)
}

// Add chunks data under the profile, stores its blocks and returns its Ref.
// The same content always gives the same blocks and CID.
func (s *Store) Add(data []byte) (Ref, error) {
	p := helpers.DagBuilderParams{Dagserv: s.dag, Maxlinks: MaxLinks, RawLeaves: true, CidBuilder: builder}
	db, err := p.New(chunker.NewSizeSplitter(bytes.NewReader(data), ChunkSize))
	if err != nil {
		return Ref{}, err
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		return Ref{}, fmt.Errorf("boxostore: import: %w", err)
	}
	return Ref{CID: nd.Cid(), SHA256: sha256.Sum256(data), Size: uint64(len(data))}, nil
}

// Read returns the whole content of ref, checked against its SHA-256 and size.
func (s *Store) Read(ref Ref) ([]byte, error) {
	ctx := context.Background()
	nd, err := s.dag.Get(ctx, ref.CID)
	if err != nil {
		return nil, s.notFound(err, ref.CID)
	}
	r, err := uio.NewDagReader(ctx, nd, s.dag)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrCorrupt, ref.CID, err)
	}
	if r.Size() != ref.Size {
		return nil, fmt.Errorf("%w: %v is %d bytes, ref says %d", ErrCorrupt, ref.CID, r.Size(), ref.Size)
	}
	out := make([]byte, 0, ref.Size)
	buf := bytes.NewBuffer(out)
	if _, err := io.Copy(buf, r); err != nil {
		return nil, s.notFound(err, ref.CID)
	}
	if sha256.Sum256(buf.Bytes()) != ref.SHA256 {
		return nil, fmt.Errorf("%w: %v does not match its SHA-256", ErrCorrupt, ref.CID)
	}
	return buf.Bytes(), nil
}

func (s *Store) notFound(err error, c cid.Cid) error {
	if ipld.IsNotFound(err) {
		return fmt.Errorf("%w: %v", ErrNotFound, c)
	}
	return err
}

// Complete checks that the store holds every block of ref's DAG and that
// its leaves add up to ref.Size, reading only the inner nodes (each block
// was checked against its hash when it was stored). A missing block is
// ErrNotFound.
func (s *Store) Complete(ref Ref) error {
	ctx := context.Background()
	var size uint64
	stack := []cid.Cid{ref.CID}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		h, err := HashOf(c)
		if err != nil {
			return err
		}
		if c.Type() == cid.Raw {
			n, err := s.bs.GetSize(ctx, CIDOf(h, cid.Raw))
			if err != nil {
				return s.notFound(err, c)
			}
			if size += uint64(n); size > ref.Size {
				break
			}
			continue
		}
		b, err := s.Get(h)
		if err != nil {
			return err
		}
		links, err := Links(c, b)
		if err != nil {
			return err
		}
		stack = append(stack, links...)
	}
	if size != ref.Size {
		return fmt.Errorf("%w: %v holds %d bytes or more, ref says %d", ErrCorrupt, ref.CID, size, ref.Size)
	}
	return nil
}

// Links returns the CIDs a block of CID c refers to: none for a raw leaf,
// the links of a dag-pb node.
func Links(c cid.Cid, b []byte) ([]cid.Cid, error) {
	switch c.Type() {
	case cid.Raw:
		return nil, nil
	case cid.DagProtobuf:
		if len(b) > MaxBlockBytes {
			return nil, fmt.Errorf("%w: node of %d bytes", ErrCorrupt, len(b))
		}
		nd, err := merkledag.DecodeProtobuf(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		// The pinned profile builds no node wider than MaxLinks. A wider
		// one (a stranger's 320 KiB node names ~8,000) would have every
		// DAG walk hold thousands of CIDs per block before any budget sees
		// them.
		if len(nd.Links()) > MaxLinks {
			return nil, fmt.Errorf("%w: node of %d links, the profile's cap is %d", ErrCorrupt, len(nd.Links()), MaxLinks)
		}
		out := make([]cid.Cid, 0, len(nd.Links()))
		for _, l := range nd.Links() {
			if _, err := HashOf(l.Cid); err != nil {
				return nil, err
			}
			out = append(out, l.Cid)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %v", ErrProfile, c)
}

// Walk calls f for every block of the DAG under root, read from src (every
// block checked against its hash), parents before children, each once.
func Walk(root cid.Cid, src replication.ChunkReader, f func(c cid.Cid, b []byte) error) error {
	seen := map[cid.Cid]bool{}
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[c] {
			continue
		}
		seen[c] = true
		h, err := HashOf(c)
		if err != nil {
			return err
		}
		b, err := src.Get(h)
		if err != nil {
			return err
		}
		if replication.HashChunk(b) != h {
			return fmt.Errorf("%w: %v", ErrCorrupt, c)
		}
		if err := f(c, b); err != nil {
			return err
		}
		links, err := Links(c, b)
		if err != nil {
			return err
		}
		for i := len(links) - 1; i >= 0; i-- {
			stack = append(stack, links[i])
		}
	}
	return nil
}

// Export writes every block of the DAG under root to dst (skipping those it holds).
func (s *Store) Export(root cid.Cid, dst replication.ChunkStore) error {
	return Walk(root, s, func(c cid.Cid, b []byte) error {
		h, _ := HashOf(c)
		if ok, _ := dst.Has(h); ok {
			return nil
		}
		_, err := dst.Put(b)
		return err
	})
}

// Import copies the DAG under root from src into the store, every block
// checked against its hash; blocks the store holds are read from it.
func (s *Store) Import(root cid.Cid, src replication.ChunkReader) error {
	return Walk(root, overlay{s, src}, func(c cid.Cid, b []byte) error {
		h, _ := HashOf(c)
		if ok, _ := s.Has(h); ok {
			return nil
		}
		_, err := s.Put(append([]byte(nil), b...))
		return err
	})
}

type overlay struct{ first, second replication.ChunkReader }

func (o overlay) Get(h replication.Hash) ([]byte, error) {
	if b, err := o.first.Get(h); err == nil {
		return b, nil
	}
	return o.second.Get(h)
}
