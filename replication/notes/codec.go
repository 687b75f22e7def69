package notes

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/clone2clone/c2c/replication"
)

// Operation payloads: kind byte, uvarint key length, key, then
//
//	put:    the content (the rest)
//	delete: nothing
//	insert: uvarint offset, the text (the rest)
//	cut:    uvarint offset, uvarint length
const (
	opPut    = 'p'
	opDelete = 'd'
	opInsert = 'i'
	opCut    = 'c'
)

type op struct {
	kind   byte
	key    []byte
	off, n uint64
	text   []byte
}

// Put returns the payload that sets note key to value.
func Put(key string, value []byte) []byte { return append(head(opPut, key), value...) }

// Delete returns the payload that deletes note key.
func Delete(key string) []byte { return head(opDelete, key) }

// Insert returns the payload that inserts text at byte offset off of note key
// (creating it when off is 0).
func Insert(key string, off int, text []byte) []byte {
	return append(binary.AppendUvarint(head(opInsert, key), uint64(off)), text...)
}

// Cut returns the payload that removes n bytes at offset off of note key.
func Cut(key string, off, n int) []byte {
	return binary.AppendUvarint(binary.AppendUvarint(head(opCut, key), uint64(off)), uint64(n))
}

func head(kind byte, key string) []byte {
	return append(binary.AppendUvarint([]byte{kind}, uint64(len(key))), key...)
}

func parseOp(p []byte) (op, error) {
	var o op
	if len(p) < 2 {
		return o, fmt.Errorf("%w: %d-byte payload", ErrBadOp, len(p))
	}
	o.kind = p[0]
	klen, n := binary.Uvarint(p[1:])
	if n <= 0 || klen == 0 || klen > MaxKeyBytes || uint64(len(p)-1-n) < klen {
		return o, fmt.Errorf("%w: key", ErrBadOp)
	}
	rest := p[1+n:]
	o.key, rest = rest[:klen], rest[klen:]
	switch o.kind {
	case opPut:
		if len(rest) > MaxValueBytes {
			return o, fmt.Errorf("%w: value of %d bytes", ErrBadOp, len(rest))
		}
		o.text = rest
	case opDelete:
		if len(rest) != 0 {
			return o, fmt.Errorf("%w: trailing bytes", ErrBadOp)
		}
	case opInsert:
		if o.off, n = binary.Uvarint(rest); n <= 0 {
			return o, fmt.Errorf("%w: offset", ErrBadOp)
		}
		o.text = rest[n:]
	case opCut:
		var m int
		o.off, n = binary.Uvarint(rest)
		if n > 0 {
			o.n, m = binary.Uvarint(rest[n:])
		}
		if n <= 0 || m <= 0 || n+m != len(rest) {
			return o, fmt.Errorf("%w: cut", ErrBadOp)
		}
	default:
		return o, fmt.Errorf("%w: kind %#x", ErrBadOp, o.kind)
	}
	return o, nil
}

// A bucket chunk: 'N', uvarint count, then per note in key order: uvarint
// key length, key, uvarint mtime, uvarint content length, content. An empty
// bucket has no chunk.
const bucketFormat = 'N'

func encodeBucket(b map[string]*note) []byte {
	if len(b) == 0 {
		return nil
	}
	keys := make([]string, 0, len(b))
	size := 8
	for k, n := range b {
		keys = append(keys, k)
		size += len(k) + len(n.val) + 16
	}
	sort.Strings(keys)
	p := append(make([]byte, 0, size), bucketFormat)
	p = binary.AppendUvarint(p, uint64(len(keys)))
	for _, k := range keys {
		n := b[k]
		p = binary.AppendUvarint(p, uint64(len(k)))
		p = append(p, k...)
		p = binary.AppendUvarint(p, uint64(n.mtime))
		p = binary.AppendUvarint(p, uint64(len(n.val)))
		p = append(p, n.val...)
	}
	return p
}

// decodeBucket fills into from chunk c of bucket index; it checks that every
// key belongs there and that keys ascend, so the chunk is canonical.
func decodeBucket(c []byte, index int, into map[string]*note) error {
	bad := func(what string) error { return fmt.Errorf("%w: bucket %d: %s", ErrBadOp, index, what) }
	if len(c) < 2 || c[0] != bucketFormat {
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
		if (i > 0 && key <= prev) || bucketOf([]byte(key)) != index {
			return bad("key order")
		}
		mtime, ok1 := uv()
		vlen, ok2 := uv()
		if !ok1 || !ok2 || vlen > MaxValueBytes || vlen > uint64(len(rest)) || mtime > 1<<62 {
			return bad("note")
		}
		into[key] = &note{val: append([]byte(nil), rest[:vlen]...), mtime: replication.Time(mtime)}
		rest = rest[vlen:]
		prev = key
	}
	if len(rest) != 0 {
		return bad("trailing bytes")
	}
	return nil
}
