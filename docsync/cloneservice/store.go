package cloneservice

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/seqservice/netproto"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

func docPrefix(doc docsync.DocID) string { return "/c/" + hex.EncodeToString(doc[:]) }

func metaKey(doc docsync.DocID) datastore.Key { return datastore.NewKey(docPrefix(doc) + "/meta") }
func pendingKey(doc docsync.DocID) datastore.Key {
	return datastore.NewKey(docPrefix(doc) + "/pending")
}
func forkKey(doc docsync.DocID) datastore.Key { return datastore.NewKey(docPrefix(doc) + "/fork") }
func entryKey(doc docsync.DocID, seq uint64) datastore.Key {
	return datastore.NewKey(fmt.Sprintf("%s/e/%016x", docPrefix(doc), seq))
}

// ErrBadPending: a persisted Pending failed to decode.
var ErrBadPending = errors.New("cloneservice: malformed pending record")

const pendingVersion = 1

// MarshalPending encodes a docsync.Pending: version, counter, then the
// in-flight envelope and the buffer op, each as a uvarint length (0 = none)
// and its bytes.
func MarshalPending(p *docsync.Pending) ([]byte, error) {
	b := []byte{pendingVersion}
	b = binary.BigEndian.AppendUint64(b, p.Counter)
	var env, buf []byte
	var err error
	if p.InFlight != nil {
		if env, err = p.InFlight.Marshal(); err != nil {
			return nil, err
		}
	}
	if p.Buffer != nil {
		if buf, err = p.Buffer.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	b = binary.AppendUvarint(b, uint64(len(env)))
	b = append(b, env...)
	b = binary.AppendUvarint(b, uint64(len(buf)))
	return append(b, buf...), nil
}

// maxPendingBytes caps a pending record: an envelope and a buffer op.
const maxPendingBytes = 2*docsync.MaxEnvelopeBytes + 64

// UnmarshalPending decodes a record written by MarshalPending.
func UnmarshalPending(b []byte) (*docsync.Pending, error) {
	if len(b) > maxPendingBytes || len(b) < 9 || b[0] != pendingVersion {
		return nil, fmt.Errorf("%w: header", ErrBadPending)
	}
	p := &docsync.Pending{Counter: binary.BigEndian.Uint64(b[1:9])}
	rest := b[9:]
	part := func() ([]byte, error) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return nil, fmt.Errorf("%w: length", ErrBadPending)
		}
		out := rest[k : k+int(n)]
		rest = rest[k+int(n):]
		return out, nil
	}
	env, err := part()
	if err != nil {
		return nil, err
	}
	buf, err := part()
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes", ErrBadPending)
	}
	if len(env) > 0 {
		if p.InFlight, err = docsync.DecodeEnvelope(env); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadPending, err)
		}
	}
	if len(buf) > 0 {
		op, err := ot.Decode(buf)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadPending, err)
		}
		p.Buffer = &op
	}
	return p, nil
}

// stored is what a document left in the datastore.
type stored struct {
	meta    *netproto.Invitation
	entries []*docsync.Entry
	pending *docsync.Pending
	proof   *docsync.ForkProof
}

// listDocs returns the documents with a meta record.
func listDocs(ctx context.Context, ds datastore.Datastore) ([]docsync.DocID, error) {
	res, err := ds.Query(ctx, query.Query{Prefix: "/c", KeysOnly: true})
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out []docsync.DocID
	for r := range res.Next() {
		if r.Error != nil {
			return nil, r.Error
		}
		parts := strings.Split(strings.TrimPrefix(r.Key, "/"), "/")
		if len(parts) != 3 || parts[2] != "meta" {
			continue
		}
		b, err := hex.DecodeString(parts[1])
		if err != nil || len(b) != 32 {
			continue
		}
		var d docsync.DocID
		copy(d[:], b)
		out = append(out, d)
	}
	return out, nil
}

// load reads one document's records.
func load(ctx context.Context, ds datastore.Datastore, doc docsync.DocID) (*stored, error) {
	st := &stored{}
	b, err := ds.Get(ctx, metaKey(doc))
	if err != nil {
		return nil, err
	}
	if st.meta, err = netproto.DecodeInvitation(b); err != nil {
		return nil, err
	}
	for seq := uint64(1); ; seq++ {
		b, err := ds.Get(ctx, entryKey(doc, seq))
		if errors.Is(err, datastore.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		e, err := docsync.DecodeEntry(b)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", seq, err)
		}
		st.entries = append(st.entries, e)
	}
	if b, err := ds.Get(ctx, pendingKey(doc)); err == nil {
		if st.pending, err = UnmarshalPending(b); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, datastore.ErrNotFound) {
		return nil, err
	}
	if b, err := ds.Get(ctx, forkKey(doc)); err == nil {
		if st.proof, err = docsync.DecodeForkProof(b); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, datastore.ErrNotFound) {
		return nil, err
	}
	return st, nil
}
