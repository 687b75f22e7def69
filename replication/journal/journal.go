// Package journal is the durable, append-only log that the mirror's wiring
// keeps on a datastore (the clone's pebble store, or the device's): every
// call that changed a replication core (an input, a batch taken, a tick that
// replayed, a resync step) is one record, written and synced before anything
// it caused leaves the process. On boot the records are replayed, in order,
// into a fresh core, which is deterministic, so it reaches the state it had.
//
// Records are numbered from 1 under prefix/log/<16 hex digits>; a gap in the
// numbers is an error (ErrCorrupt), never skipped.
package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// ErrCorrupt: the log or a record in it does not read back.
var ErrCorrupt = errors.New("journal: corrupt")

// Journal is one log. It is not safe for concurrent use: its owner's loop
// calls it.
type Journal struct {
	ds     datastore.Batching
	prefix string
	next   uint64
}

// Open opens (or starts) the log under prefix, e.g. "/mirror".
func Open(ctx context.Context, ds datastore.Batching, prefix string) (*Journal, error) {
	j := &Journal{ds: ds, prefix: strings.TrimSuffix(prefix, "/"), next: 1}
	res, err := ds.Query(ctx, query.Query{Prefix: j.prefix + "/log", KeysOnly: true})
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var n uint64
	for r := range res.Next() {
		if r.Error != nil {
			return nil, r.Error
		}
		i, err := j.index(r.Key)
		if err != nil {
			return nil, err
		}
		n = max(n, i)
	}
	j.next = n + 1
	return j, nil
}

func (j *Journal) key(i uint64) datastore.Key {
	return datastore.NewKey(fmt.Sprintf("%s/log/%016x", j.prefix, i))
}

func (j *Journal) index(k string) (uint64, error) {
	s, ok := strings.CutPrefix(k, j.prefix+"/log/")
	i, err := strconv.ParseUint(s, 16, 64)
	if !ok || err != nil || len(s) != 16 || i == 0 {
		return 0, fmt.Errorf("%w: key %q", ErrCorrupt, k)
	}
	return i, nil
}

// Len returns the number of records.
func (j *Journal) Len() uint64 { return j.next - 1 }

// Append writes recs as the next records in one datastore batch and syncs
// it: when Append returns nil they survive a crash.
func (j *Journal) Append(ctx context.Context, recs ...[]byte) error {
	if len(recs) == 0 {
		return nil
	}
	b, err := j.ds.Batch(ctx)
	if err != nil {
		return err
	}
	for i, r := range recs {
		if err := b.Put(ctx, j.key(j.next+uint64(i)), r); err != nil {
			return err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return err
	}
	if err := j.ds.Sync(ctx, datastore.NewKey(j.prefix)); err != nil {
		return err
	}
	j.next += uint64(len(recs))
	return nil
}

// Replay calls fn on every record, in order. A missing record is ErrCorrupt.
func (j *Journal) Replay(ctx context.Context, fn func(i uint64, rec []byte) error) error {
	for i := uint64(1); i < j.next; i++ {
		rec, err := j.ds.Get(ctx, j.key(i))
		if err != nil {
			return fmt.Errorf("%w: record %d of %d: %w", ErrCorrupt, i, j.next-1, err)
		}
		if err := fn(i, rec); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return nil
}

// Rec builds a record: a kind byte, then fields.
type Rec []byte

// NewRec starts a record of kind k.
func NewRec(k byte) Rec { return Rec{k} }

// U appends a uvarint.
func (r Rec) U(v uint64) Rec { return binary.AppendUvarint(r, v) }

// I appends a signed varint.
func (r Rec) I(v int64) Rec { return binary.AppendVarint(r, v) }

// B appends a length-prefixed byte string.
func (r Rec) B(b []byte) Rec { return append(binary.AppendUvarint(r, uint64(len(b))), b...) }

// Reader reads a record's fields; the first error sticks.
type Reader struct {
	b   []byte
	Err error
}

// Read starts reading rec; it returns the kind byte.
func Read(rec []byte) (byte, *Reader) {
	if len(rec) == 0 {
		return 0, &Reader{Err: fmt.Errorf("%w: empty record", ErrCorrupt)}
	}
	return rec[0], &Reader{b: rec[1:]}
}

// U reads a uvarint.
func (r *Reader) U() uint64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Err = fmt.Errorf("%w: bad uvarint", ErrCorrupt)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// I reads a signed varint.
func (r *Reader) I() int64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.Err = fmt.Errorf("%w: bad varint", ErrCorrupt)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// B reads a length-prefixed byte string (aliasing the record).
func (r *Reader) B() []byte {
	n := r.U()
	if r.Err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.Err = fmt.Errorf("%w: string of %d bytes, %d left", ErrCorrupt, n, len(r.b))
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// End reports the first error, or ErrCorrupt for trailing bytes.
func (r *Reader) End() error {
	if r.Err == nil && len(r.b) != 0 {
		r.Err = fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	return r.Err
}

// Rest returns the bytes not read yet (nil after an error).
func (r *Reader) Rest() []byte {
	if r.Err != nil {
		return nil
	}
	return r.b
}

// Resume returns a Reader over b: fields after a part read by other means.
func Resume(b []byte) *Reader { return &Reader{b: b} }
