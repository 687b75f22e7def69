package cloneservice

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// docPrefix is "/c/" and the DocID in hex: a document's keys start with it.
func docPrefix(doc docsync.DocID) string {
	var b [len(docKeyStart) + 2*len(docsync.DocID{})]byte
	copy(b[:], docKeyStart)
	hex.Encode(b[len(docKeyStart):], doc[:])
	return string(b[:])
}

const docKeyStart = "/c/"

// docKey is the key of docPrefix itself (what persist syncs).
func docKey(doc docsync.DocID) datastore.Key { return datastore.RawKey(docPrefix(doc)) }

func metaKey(doc docsync.DocID) datastore.Key { return datastore.NewKey(docPrefix(doc) + "/meta") }
func pendingKey(doc docsync.DocID) datastore.Key {
	return datastore.NewKey(docPrefix(doc) + "/pending")
}
func forkKey(doc docsync.DocID) datastore.Key { return datastore.NewKey(docPrefix(doc) + "/fork") }

// entryKey is docPrefix + "/e/" + seq as 16 hex digits, so that entries
// sort by seq. It is built in one allocation: every entry a clone stores
// takes one.
func entryKey(doc docsync.DocID, seq uint64) datastore.Key {
	const hexDoc = 2 * len(docsync.DocID{})
	var b [len(docKeyStart) + hexDoc + len("/e/") + 16]byte
	n := copy(b[:], docKeyStart)
	n += hex.Encode(b[n:], doc[:])
	n += copy(b[n:], "/e/")
	var be [8]byte
	binary.BigEndian.PutUint64(be[:], seq)
	hex.Encode(b[n:], be[:])
	return datastore.RawKey(string(b[:]))
}

// stored is what a document left in the datastore.
type stored struct {
	meta    *netproto.Invitation
	entries []*docsync.Entry
	pending *docsync.Pending
	proof   *docsync.ForkProof
	// evidence: tamper and forged-seq evidence (evidence.go)
	evidence []*docsync.Evidence
	// snaps: the kept snapshot; entries holds only those after it (snapshots.go)
	snaps snapState
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

// deleteDoc removes every record of doc and syncs.
func deleteDoc(ctx context.Context, ds datastore.Batching, doc docsync.DocID) error {
	res, err := ds.Query(ctx, query.Query{Prefix: docPrefix(doc), KeysOnly: true})
	if err != nil {
		return err
	}
	rs, err := res.Rest()
	if err != nil {
		return err
	}
	b, err := ds.Batch(ctx)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := b.Delete(ctx, datastore.NewKey(r.Key)); err != nil {
			return err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return err
	}
	return ds.Sync(ctx, datastore.NewKey(docPrefix(doc)))
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
	if st.snaps, err = loadSnapshot(ctx, ds, doc); err != nil {
		return nil, err
	}
	for seq := st.snaps.lastSeq() + 1; ; seq++ {
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
		if st.pending, err = docsync.DecodePending(b); err != nil {
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
	if st.evidence, err = loadEvidence(ctx, ds, doc); err != nil {
		return nil, err
	}
	return st, nil
}
