package downloader

import (
	"context"
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/replication/journal"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// dsSpool keeps one download (one try of one request) in the clone's
// datastore: its progress record and its bytes, in parts keyed by their
// offset, each part written in one batch with the progress that counts it
// and synced, so that after kill -9 the record and the parts agree.
type dsSpool struct {
	ctx context.Context
	ds  datastore.Batching
	job string
}

func progKey(job string) datastore.Key   { return datastore.NewKey(Namespace + "/prog/" + job) }
func partPrefix(job string) string       { return Namespace + "/part/" + job + "/" }
func resultKey(job string) datastore.Key { return datastore.NewKey(Namespace + "/result/" + job) }
func doneKey(job string) datastore.Key   { return datastore.NewKey(Namespace + "/done/" + job) }

func encodeProgress(p Progress) []byte {
	return journal.NewRec('p').U(p.Offset).I(p.Total).B([]byte(p.ETag)).B([]byte(p.LastModified))
}

func decodeProgress(b []byte) (Progress, error) {
	k, r := journal.Read(b)
	p := Progress{Offset: r.U(), Total: r.I(), ETag: string(r.B()), LastModified: string(r.B())}
	if err := r.End(); err != nil || k != 'p' || p.Total < -1 {
		return Fresh(), fmt.Errorf("downloader: progress record: %v", err)
	}
	return p, nil
}

// load returns the durable progress (Fresh if none).
func (s *dsSpool) load() (Progress, error) {
	b, err := s.ds.Get(s.ctx, progKey(s.job))
	if errors.Is(err, datastore.ErrNotFound) {
		return Fresh(), nil
	}
	if err != nil {
		return Fresh(), err
	}
	return decodeProgress(b)
}

func (s *dsSpool) commit(b datastore.Batch) error {
	if err := b.Commit(s.ctx); err != nil {
		return err
	}
	return s.ds.Sync(s.ctx, datastore.NewKey(Namespace))
}

// parts returns the keys of the parts kept.
func (s *dsSpool) parts() ([]string, error) {
	res, err := s.ds.Query(s.ctx, query.Query{Prefix: partPrefix(s.job), KeysOnly: true, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, err
	}
	all, err := res.Rest()
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(all))
	for i, e := range all {
		keys[i] = e.Key
	}
	return keys, nil
}

// Restart implements spool.
func (s *dsSpool) Restart(p Progress) error {
	keys, err := s.parts()
	if err != nil {
		return err
	}
	b, err := s.ds.Batch(s.ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(s.ctx, datastore.NewKey(k)); err != nil {
			return err
		}
	}
	if err := b.Put(s.ctx, progKey(s.job), encodeProgress(p)); err != nil {
		return err
	}
	return s.commit(b)
}

// Append implements spool.
func (s *dsSpool) Append(data []byte, next Progress) error {
	b, err := s.ds.Batch(s.ctx)
	if err != nil {
		return err
	}
	at := next.Offset - uint64(len(data))
	if err := b.Put(s.ctx, datastore.NewKey(fmt.Sprintf("%s%016x", partPrefix(s.job), at)), append([]byte(nil), data...)); err != nil {
		return err
	}
	if err := b.Put(s.ctx, progKey(s.job), encodeProgress(next)); err != nil {
		return err
	}
	return s.commit(b)
}

// content reads the parts back in order: exactly p.Offset bytes.
func (s *dsSpool) content(p Progress) ([]byte, error) {
	keys, err := s.parts()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, p.Offset) // p.Offset is ours, capped by MaxBytes
	for _, k := range keys {
		v, err := s.ds.Get(s.ctx, datastore.NewKey(k))
		if err != nil {
			return nil, err
		}
		if want := fmt.Sprintf("%s%016x", partPrefix(s.job), len(out)); k != want || uint64(len(out)+len(v)) > p.Offset {
			return nil, fmt.Errorf("downloader: part %s does not follow the %d bytes before it", k, len(out))
		}
		out = append(out, v...)
	}
	if uint64(len(out)) != p.Offset {
		return nil, fmt.Errorf("downloader: %d bytes kept, progress says %d", len(out), p.Offset)
	}
	return out, nil
}

// finish replaces the parts and the progress by the result to relay.
func (s *dsSpool) finish(result []byte) error {
	keys, err := s.parts()
	if err != nil {
		return err
	}
	b, err := s.ds.Batch(s.ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(s.ctx, datastore.NewKey(k)); err != nil {
			return err
		}
	}
	if err := b.Delete(s.ctx, progKey(s.job)); err != nil {
		return err
	}
	if err := b.Put(s.ctx, resultKey(s.job), result); err != nil {
		return err
	}
	return s.commit(b)
}

// relayed records that the result reached the mirror.
func (s *dsSpool) relayed() error {
	b, err := s.ds.Batch(s.ctx)
	if err != nil {
		return err
	}
	if err := b.Delete(s.ctx, resultKey(s.job)); err != nil {
		return err
	}
	if err := b.Put(s.ctx, doneKey(s.job), []byte{0}); err != nil {
		return err
	}
	return s.commit(b)
}
