package cloneservice

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// ErrBadMeta: a meta record with an empty key.
var ErrBadMeta = errors.New("cloneservice: bad meta record")

// Meta records are a caller's small key/values kept beside a document's
// engine state: /c/<doc hex>/x/<key hex>. EditFuncMeta writes them in the
// same datastore batch, under the same sync, as the Ready that carries the
// edit they describe, so a caller's bookkeeping about an edit (a device's
// edit counter) is durable exactly when the edit is.
func metaRecordPrefix(doc docsync.DocID) string { return docPrefix(doc) + "/x" }

func metaRecordKey(doc docsync.DocID, key string) datastore.Key {
	return datastore.NewKey(metaRecordPrefix(doc) + "/" + hex.EncodeToString([]byte(key)))
}

// EditFuncMeta is EditFunc whose build also returns meta records (key ->
// value; keys not empty). They are written in the same durable batch as the
// replica state holding the ops, and only if every op was accepted: after a
// crash at any point, either the ops and the records are both on disk or
// neither is. Records with no ops are written on their own.
func (s *Service) EditFuncMeta(ctx context.Context, doc docsync.DocID, build func(length int) ([]ot.Op, map[string][]byte, error)) error {
	return s.editFuncMeta(ctx, doc, func(b Base) ([]ot.Op, map[string][]byte, error) { return build(b.Len) }, nil)
}

// editFuncMeta is EditFuncMeta whose edit is not reported to the observer
// from (the attachment that proposes it).
func (s *Service) editFuncMeta(ctx context.Context, doc docsync.DocID, build func(b Base) ([]ot.Op, map[string][]byte, error), from *attachment) error {
	return s.onDoc(ctx, doc, func(d *docState) error {
		ops, meta, err := build(d.base())
		if err != nil {
			return err
		}
		for k := range meta {
			if k == "" {
				return fmt.Errorf("%w: empty key", ErrBadMeta)
			}
		}
		op, n, perr := composeBatch(ops, d.r.LocalLen())
		if n > 0 {
			if err := d.r.Propose(op); err != nil {
				n, perr = 0, err
			} else {
				s.emit(d, Event{Kind: EventLocal, Op: &op})
			}
		}
		if perr != nil {
			perr = fmt.Errorf("cloneservice: edit %d of %d: %w", n+1, len(ops), perr)
			meta = nil // not every op is in: the records would describe an edit that is not
		}
		if err := s.handleReadyMeta(d, meta); err != nil {
			return err
		}
		if n > 0 {
			s.observe(d, Change{Kind: EventLocal, Op: op}, from) // durable now
		}
		return perr
	})
}

// Meta returns doc's meta records whose key starts with prefix.
func (s *Service) Meta(ctx context.Context, doc docsync.DocID, prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.onDoc(ctx, doc, func(d *docState) error {
		res, err := s.ds.Query(s.ctx, query.Query{Prefix: metaRecordPrefix(doc)})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
		defer res.Close()
		for r := range res.Next() {
			if r.Error != nil {
				return fmt.Errorf("%w: %w", ErrStorage, r.Error)
			}
			k, err := hex.DecodeString(strings.TrimPrefix(r.Key, metaRecordPrefix(doc)+"/"))
			if err != nil {
				return fmt.Errorf("%w: meta record %s", ErrStorage, r.Key)
			}
			if strings.HasPrefix(string(k), prefix) {
				out[string(k)] = r.Value
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// putMeta adds meta records to a batch.
func (s *Service) putMeta(b datastore.Batch, doc docsync.DocID, meta map[string][]byte) error {
	for k, v := range meta {
		if err := b.Put(s.ctx, metaRecordKey(doc, k), v); err != nil {
			return err
		}
	}
	return nil
}
