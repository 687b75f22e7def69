package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/clone2clone/c2c/docsync"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// WithStore keeps each device's last applied edit counter per document in
// ds (namespace it), so that after a clone restart a device with an edit in
// flight learns whether the edit was applied (it is resent only if not)
// instead of being refused. The counter is written once the engine has the
// edit: a crash between the two can still apply a resent edit twice.
func WithStore(ds datastore.Batching) Option {
	return func(s *Server) error { s.store = ds; return nil }
}

// Storage keys: /<doc hex>/<device name hex> -> uvarint counter.
func counterKey(doc docsync.DocID, device string) datastore.Key {
	return datastore.NewKey("/" + hex.EncodeToString(doc[:]) + "/" + hex.EncodeToString([]byte(device)))
}

// loadCounters reads every device counter of doc.
func (s *Server) loadCounters(ctx context.Context, doc docsync.DocID) (map[string]uint64, error) {
	res, err := s.store.Query(ctx, query.Query{Prefix: "/" + hex.EncodeToString(doc[:])})
	if err != nil {
		return nil, err
	}
	defer res.Close()
	out := map[string]uint64{}
	for r := range res.Next() {
		if r.Error != nil {
			return nil, r.Error
		}
		k := datastore.NewKey(r.Key)
		name, err := hex.DecodeString(strings.TrimPrefix(k.BaseNamespace(), "/"))
		c, n := binary.Uvarint(r.Value)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("device server: bad counter record %s", r.Key)
		}
		out[string(name)] = c
	}
	return out, nil
}

// saveCounter records that device's edit counter was applied on doc.
func (s *Server) saveCounter(ctx context.Context, doc docsync.DocID, device string, counter uint64) error {
	if s.store == nil {
		return nil
	}
	k := counterKey(doc, device)
	if old, err := s.store.Get(ctx, k); err == nil {
		if c, n := binary.Uvarint(old); n > 0 && c >= counter {
			return nil
		}
	}
	if err := s.store.Put(ctx, k, binary.AppendUvarint(nil, counter)); err != nil {
		return err
	}
	return s.store.Sync(ctx, k)
}
