package docsync

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"sync"
)

// canonWriter takes canonical bytes field by field (see canon): into a
// buffer for a signature, or straight into a hash for a digest, so the
// digests taken on every delivery (an envelope's, a signature cache key)
// build no buffer.
type canonWriter interface {
	fixed(b []byte)
	u64(v uint64)
	u8(v uint8)
	varb(b []byte)
}

// canonBuf is a canonWriter into a buffer.
type canonBuf struct{ c canon }

func (w *canonBuf) fixed(b []byte) { w.c = w.c.fixed(b) }
func (w *canonBuf) u64(v uint64)   { w.c = w.c.u64(v) }
func (w *canonBuf) u8(v uint8)     { w.c = w.c.u8(v) }
func (w *canonBuf) varb(b []byte)  { w.c = w.c.varb(b) }

// pooledSHA256 is a canonWriter into a SHA-256 state, reused through
// shaPool with its scratch space.
type pooledSHA256 struct {
	h       hash.Hash
	scratch [8]byte
	sum     Hash
}

var shaPool = sync.Pool{New: func() any { return &pooledSHA256{h: sha256.New()} }}

// newSHA256 is a reset state from the pool; done returns it.
func newSHA256() *pooledSHA256 {
	p := shaPool.Get().(*pooledSHA256)
	p.h.Reset()
	return p
}

func (p *pooledSHA256) fixed(b []byte) { p.h.Write(b) }

func (p *pooledSHA256) u64(v uint64) {
	binary.BigEndian.PutUint64(p.scratch[:], v)
	p.h.Write(p.scratch[:])
}

func (p *pooledSHA256) u8(v uint8) {
	p.scratch[0] = v
	p.h.Write(p.scratch[:1])
}

func (p *pooledSHA256) varb(b []byte) {
	binary.BigEndian.PutUint32(p.scratch[:4], uint32(len(b)))
	p.h.Write(p.scratch[:4])
	p.h.Write(b)
}

// done returns the digest of what was written and puts p back in the pool.
func (p *pooledSHA256) done() Hash {
	p.h.Sum(p.sum[:0])
	d := p.sum
	shaPool.Put(p)
	return d
}
