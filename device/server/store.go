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

// Device counters. Each device's last applied edit counter per document is
// an engine meta record (counterPrefix + device name -> uvarint), written by
// EditFuncMeta in the same durable batch as the engine state holding the
// edit. Invariant: after a crash at any point, a device edit is either not
// applied and its counter not advanced, or both; so a device that resends
// its in-flight edit after a clone restart has it applied exactly once.
const counterPrefix = "device-counter/"

// counterMeta is the meta record of device's counter if applying a step
// advanced it past before (hb.mu held).
func (hb *hub) counterMeta(device string, before uint64) map[string][]byte {
	c := hb.srv.LastCounter(device)
	if c <= before {
		return nil
	}
	return map[string][]byte{counterPrefix + device: binary.AppendUvarint(nil, c)}
}

// loadCounters reads every device counter of doc from the engine (and
// from a legacy WithStore store, keeping the larger).
func (s *Server) loadCounters(ctx context.Context, doc docsync.DocID) (map[string]uint64, error) {
	recs, err := s.eng.Meta(ctx, doc, counterPrefix)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for k, v := range recs {
		c, n := binary.Uvarint(v)
		if n <= 0 {
			return nil, fmt.Errorf("device server: bad counter record %q", k)
		}
		out[strings.TrimPrefix(k, counterPrefix)] = c
	}
	if s.store != nil {
		if err := s.loadLegacyCounters(ctx, doc, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WithStore names the datastore where older versions kept device counters.
//
// Deprecated: counters are now engine meta records, durable together with
// the edits they count; ds is only read, so counters saved by an older
// version still count after an upgrade. Nothing is written to it.
func WithStore(ds datastore.Batching) Option {
	return func(s *Server) error { s.store = ds; return nil }
}

// loadLegacyCounters merges the WithStore records of doc
// (/<doc hex>/<device name hex> -> uvarint counter) into out.
func (s *Server) loadLegacyCounters(ctx context.Context, doc docsync.DocID, out map[string]uint64) error {
	res, err := s.store.Query(ctx, query.Query{Prefix: "/" + hex.EncodeToString(doc[:])})
	if err != nil {
		return err
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return r.Error
		}
		k := datastore.NewKey(r.Key)
		name, err := hex.DecodeString(strings.TrimPrefix(k.BaseNamespace(), "/"))
		c, n := binary.Uvarint(r.Value)
		if err != nil || n <= 0 {
			return fmt.Errorf("device server: bad counter record %s", r.Key)
		}
		out[string(name)] = max(out[string(name)], c)
	}
	return nil
}
