package replication

import "fmt"

// ChunkReader reads content-addressed chunks.
type ChunkReader interface {
	// Get returns the chunk whose hash is h, or an error wrapping
	// ErrChunkNotFound. The caller must not modify the returned bytes.
	Get(h Hash) ([]byte, error)
}

// ChunkStore holds content-addressed chunks: payloads too large to travel
// inline, and app state exported for a resync or a template. The mirror's
// store is the clone's blockstore in production (beside this package);
// MemStore is the in-memory one.
type ChunkStore interface {
	ChunkReader
	// Has reports whether the store holds h.
	Has(h Hash) (bool, error)
	// Put stores b (the store may keep b itself: the caller must not modify
	// it afterwards) and returns its hash.
	Put(b []byte) (Hash, error)
}

// MemStore is an in-memory ChunkStore. The zero value is not usable; call NewMemStore.
type MemStore struct {
	chunks map[Hash][]byte
	bytes  int
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{chunks: map[Hash][]byte{}} }

// Get implements ChunkReader.
func (s *MemStore) Get(h Hash) ([]byte, error) {
	b, ok := s.chunks[h]
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrChunkNotFound, h)
	}
	return b, nil
}

// Has implements ChunkStore.
func (s *MemStore) Has(h Hash) (bool, error) {
	_, ok := s.chunks[h]
	return ok, nil
}

// Put implements ChunkStore.
func (s *MemStore) Put(b []byte) (Hash, error) {
	h := HashChunk(b)
	if _, ok := s.chunks[h]; !ok {
		s.chunks[h] = b
		s.bytes += len(b)
	}
	return h, nil
}

// Len returns the number of chunks held.
func (s *MemStore) Len() int { return len(s.chunks) }

// Bytes returns the total size of the chunks held.
func (s *MemStore) Bytes() int { return s.bytes }

// Delete removes h (tests use it to lose a chunk).
func (s *MemStore) Delete(h Hash) {
	if b, ok := s.chunks[h]; ok {
		s.bytes -= len(b)
		delete(s.chunks, h)
	}
}

// overlay reads from first, then second: the resync's fetched chunks over the
// mirror's own.
type overlay struct{ first, second ChunkReader }

func (o overlay) Get(h Hash) ([]byte, error) {
	if b, err := o.first.Get(h); err == nil {
		return b, nil
	}
	return o.second.Get(h)
}
