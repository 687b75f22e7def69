package dht

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
)

// Datastore layout: every record this node holds lives under recordsPrefix
// (its own, and for providers the replica); ownPrefix marks the keys this
// node published itself and must republish.
const (
	recordsPrefix = "/c2c-dir/records/"
	ownPrefix     = "/c2c-dir/own/"
)

var dsKeyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func dsKeyFor(prefix, key string) ds.Key {
	return ds.NewKey(prefix + dsKeyEncoding.EncodeToString([]byte(key)))
}

// summary identifies a held record compactly for anti-entropy.
type summary struct {
	Seq    uint64
	EOL    int64 // unix nanos
	Digest [8]byte
}

func summarize(rec signedRecord, raw []byte) summary {
	seq, eol := rec.order()
	h := sha256.Sum256(raw)
	var s summary
	s.Seq, s.EOL = seq, eol.UnixNano()
	copy(s.Digest[:], h[:8])
	return s
}

// recordStore holds signed records, refusing any that does not supersede
// the one held (ErrStaleSeq). It keeps a small in-memory summary per key.
type recordStore struct {
	ds  ds.Batching
	val *Validator

	mu    sync.Mutex
	index map[string]summary
	own   map[string]bool
}

// openStore loads the index of what ds already holds (after a restart).
// Entries that no longer decode are dropped.
func openStore(ctx context.Context, d ds.Batching, val *Validator) (*recordStore, error) {
	s := &recordStore{ds: d, val: val, index: map[string]summary{}, own: map[string]bool{}}
	res, err := d.Query(ctx, dsq.Query{Prefix: strings.TrimSuffix(recordsPrefix, "/")})
	if err != nil {
		return nil, fmt.Errorf("dht: load records: %w", err)
	}
	for e := range res.Next() {
		if e.Error != nil {
			return nil, fmt.Errorf("dht: load records: %w", e.Error)
		}
		key, ok := decodeDsKey(e.Key, recordsPrefix)
		rec, derr := decodeRecord(key, e.Value)
		if !ok || derr != nil {
			_ = d.Delete(ctx, ds.NewKey(e.Key))
			continue
		}
		s.index[key] = summarize(rec, e.Value)
	}
	res.Close()
	own, err := d.Query(ctx, dsq.Query{Prefix: strings.TrimSuffix(ownPrefix, "/"), KeysOnly: true})
	if err != nil {
		return nil, fmt.Errorf("dht: load own keys: %w", err)
	}
	for e := range own.Next() {
		if e.Error != nil {
			return nil, fmt.Errorf("dht: load own keys: %w", e.Error)
		}
		if key, ok := decodeDsKey(e.Key, ownPrefix); ok {
			if _, held := s.index[key]; held {
				s.own[key] = true
			}
		}
	}
	own.Close()
	return s, nil
}

func decodeDsKey(dsKey, prefix string) (string, bool) {
	if !strings.HasPrefix(dsKey, prefix) {
		return "", false
	}
	b, err := dsKeyEncoding.DecodeString(dsKey[len(prefix):])
	return string(b), err == nil
}

// put stores value under key if it is valid and supersedes what is held.
// An identical value is accepted as a no-op (changed=false). own marks the
// key as one this node republishes.
func (s *recordStore) put(ctx context.Context, key string, value []byte, own bool) (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, err := s.getLocked(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	if prev != nil && bytes.Equal(prev, value) {
		// Re-check validity: an identical but expired record is not news.
		if err := s.val.Validate(key, value); err != nil {
			return false, err
		}
	} else {
		if err := s.val.CheckUpdate(key, prev, value); err != nil {
			return false, err
		}
		rec, err := decodeRecord(key, value)
		if err != nil {
			return false, err
		}
		if err := s.ds.Put(ctx, dsKeyFor(recordsPrefix, key), value); err != nil {
			return false, fmt.Errorf("dht: store record: %w", err)
		}
		s.index[key] = summarize(rec, value)
		changed = true
	}
	if own && !s.own[key] {
		if err := s.ds.Put(ctx, dsKeyFor(ownPrefix, key), nil); err != nil {
			return changed, fmt.Errorf("dht: mark own record: %w", err)
		}
		s.own[key] = true
	}
	return changed, nil
}

func (s *recordStore) getLocked(ctx context.Context, key string) ([]byte, error) {
	if _, ok := s.index[key]; !ok {
		return nil, ErrNotFound
	}
	v, err := s.ds.Get(ctx, dsKeyFor(recordsPrefix, key))
	if errors.Is(err, ds.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("dht: read record: %w", err)
	}
	return v, nil
}

// get returns the held value for key if it is still valid.
func (s *recordStore) get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Everything held passed put's full check; only its end of life can
	// have passed since, and the index has it.
	if sum, ok := s.index[key]; ok && sum.EOL <= s.val.now().UnixNano() {
		return nil, fmt.Errorf("%w: held record expired", ErrNotFound)
	}
	return s.getLocked(ctx, key)
}

// supersedes reports whether value would replace what is held for key,
// without storing it (used to ignore stale gossip cheaply).
func (s *recordStore) supersedes(key string, value []byte) bool {
	rec, err := decodeRecord(key, value)
	if err != nil {
		return false
	}
	s.mu.Lock()
	held, ok := s.index[key]
	s.mu.Unlock()
	return !ok || summaryLess(held, summarize(rec, value))
}

// summaryLess orders summaries like compareRecords as far as it can; equal
// seq and EOL with a different digest counts as "maybe newer" so the full
// record is fetched and Select decides.
func summaryLess(a, b summary) bool {
	if a.Seq != b.Seq {
		return a.Seq < b.Seq
	}
	if a.EOL != b.EOL {
		return a.EOL < b.EOL
	}
	return a.Digest != b.Digest
}

// ownKeys lists the keys this node republishes, sorted.
func (s *recordStore) ownKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.own))
	for k := range s.own {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// summaries snapshots the index, sorted by key.
func (s *recordStore) summaries() []keyedSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]keyedSummary, 0, len(s.index))
	for k, sum := range s.index {
		out = append(out, keyedSummary{Key: k, summary: sum})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// size is the number of records held.
func (s *recordStore) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.index)
}

type keyedSummary struct {
	Key string
	summary
}

// prune drops held records that are no longer valid (expired), except
// this node's own, which stay so that the operator can see them.
func (s *recordStore) prune(ctx context.Context) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	dropped := 0
	now := s.val.now().UnixNano()
	for key, sum := range s.index {
		if s.own[key] || sum.EOL > now {
			continue
		}
		if err := s.ds.Delete(ctx, dsKeyFor(recordsPrefix, key)); err == nil {
			delete(s.index, key)
			dropped++
		}
	}
	return dropped
}
