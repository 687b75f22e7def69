package seqservice

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// Compaction (docs/snapshots.md). Every CheckpointEvery entries of a
// document the sequencer writes a checkpoint of its own log state
// (docsync.LogState.Checkpoint: membership, counters, the last
// CheckpointWindow chain hashes) and, in the same synced batch, deletes the
// entries before the last KeepHistory ones (the genesis stays). A restart
// starts each document from its checkpoint and restores the entries after
// it. A history request for a deleted range gets netproto.CompactedError:
// members keep snapshots of the document (cloneservice). It never takes a
// member's snapshot as its own state: that would let a lying member make
// it accept a non-member after a restart. Only an orderer that can restore
// a checkpoint (sequencer.Honest) compacts.

func ckptKey(doc docsync.DocID) datastore.Key {
	return datastore.NewKey("/ck/" + hex.EncodeToString(doc[:]) + "/log")
}

func ckptFirstKey(doc docsync.DocID) datastore.Key {
	return datastore.NewKey("/ck/" + hex.EncodeToString(doc[:]) + "/first")
}

// checkpointer is an orderer that can start from a checkpoint.
type checkpointer interface {
	RestoreCheckpoint(l *docsync.LogState) error
}

// compactPoint is what the history handler reads off the loop (immutable).
type compactPoint struct{ firstKept, checkpoint uint64 }

// compactedAnswer is the history answer for from, if it is compacted.
func (s *Service) compactedAnswer(doc docsync.DocID, from uint64) error {
	v, ok := s.compacted.Load(doc)
	if !ok {
		return nil
	}
	cp := v.(compactPoint)
	if cp.firstKept <= 2 || from >= cp.firstKept {
		return nil
	}
	return &netproto.CompactedError{FirstKept: cp.firstKept, Snapshot: cp.checkpoint}
}

// maybeCompact checkpoints and compacts the documents of a durable batch
// that reached CheckpointEvery entries since their last checkpoint (loop
// only). A failure is logged: the log stays whole, which is safe.
func (s *Service) maybeCompact(docs map[*docState]bool) {
	every := s.params.CheckpointEvery
	for d := range docs {
		seq := d.seq.Log().Seq()
		if _, ok := d.seq.(checkpointer); !ok || every == 0 || seq < d.ckptSeq+every {
			continue
		}
		if err := s.compact(d); err != nil {
			s.log.Warn("checkpoint failed; the log stays whole", "doc", d.id, "err", err)
		}
	}
}

func (s *Service) compact(d *docState) error {
	l := d.seq.Log()
	cp, err := l.Checkpoint(s.params.CheckpointWindow)
	if err != nil {
		return err
	}
	first := max(d.firstKept, 2)
	newFirst := first
	if keep := s.params.KeepHistory; l.Seq()+1 > keep {
		newFirst = max(first, l.Seq()+1-keep)
	}
	b, err := s.ds.Batch(s.ctx)
	if err != nil {
		return err
	}
	if err := b.Put(s.ctx, ckptKey(d.id), cp); err != nil {
		return err
	}
	if err := b.Put(s.ctx, ckptFirstKey(d.id), binary.BigEndian.AppendUint64(nil, newFirst)); err != nil {
		return err
	}
	for q := first; q < newFirst; q++ {
		if err := b.Delete(s.ctx, entryKey(d.id, q)); err != nil {
			return err
		}
	}
	if err := b.Commit(s.ctx); err != nil {
		return err
	}
	if err := s.ds.Sync(s.ctx, datastore.NewKey("/")); err != nil {
		return err
	}
	d.ckptSeq, d.firstKept = l.Seq(), newFirst
	s.compacted.Store(d.id, compactPoint{firstKept: newFirst, checkpoint: l.Seq()})
	s.log.Debug("checkpoint", "doc", d.id, "seq", l.Seq(), "bytes", len(cp), "first_kept", newFirst)
	return nil
}

// parentKept refuses an envelope whose parent is before the compacted
// range (the entries after it are deleted), as a restart from the
// checkpoint would: members that joined from snapshots could not transform
// it, and its author, told "compacted" when it fetches, jumps to a
// snapshot and sends its edit again under the same counter.
func (d *docState) parentKept(env *docsync.Envelope) error {
	if d.firstKept > 2 && env.Parent+1 < d.firstKept {
		return fmt.Errorf("%w: parent %d, the entries before %d are compacted", docsync.ErrParentRange, env.Parent, d.firstKept)
	}
	return nil
}

// newOrderer is a fresh orderer of doc, started from its checkpoint when
// there is one (restart, and reload after a failed write).
func (s *Service) newOrderer(doc docsync.DocID) (sequencer.Orderer, compactPoint, error) {
	seq := s.opts.factory(doc, s.key)
	var cp compactPoint
	b, err := s.ds.Get(s.ctx, ckptKey(doc))
	if errors.Is(err, datastore.ErrNotFound) {
		return seq, cp, nil
	}
	if err != nil {
		return nil, cp, err
	}
	c, ok := seq.(checkpointer)
	if !ok {
		return nil, cp, fmt.Errorf("seqservice: %v has a checkpoint, and this sequencer cannot restore one", doc)
	}
	l, err := docsync.RestoreLogState(b, doc, s.pub)
	if err != nil {
		return nil, cp, fmt.Errorf("seqservice: checkpoint of %v: %w", doc, err)
	}
	fb, err := s.ds.Get(s.ctx, ckptFirstKey(doc))
	if err != nil || len(fb) != 8 {
		return nil, cp, fmt.Errorf("seqservice: compaction point of %v: %v", doc, err)
	}
	if err := c.RestoreCheckpoint(l); err != nil {
		return nil, cp, err
	}
	return seq, compactPoint{firstKept: binary.BigEndian.Uint64(fb), checkpoint: l.Seq()}, nil
}

// checkpointedDocs lists the documents with a checkpoint.
func (s *Service) checkpointedDocs() ([]docsync.DocID, error) {
	res, err := s.ds.Query(s.ctx, query.Query{Prefix: "/ck", KeysOnly: true})
	if err != nil {
		return nil, err
	}
	rs, err := res.Rest()
	if err != nil {
		return nil, err
	}
	var out []docsync.DocID
	for _, r := range rs {
		parts := strings.Split(strings.TrimPrefix(r.Key, "/"), "/")
		if len(parts) != 3 || parts[2] != "log" {
			continue
		}
		b, err := hex.DecodeString(parts[1])
		if err != nil || len(b) != 32 {
			continue
		}
		out = append(out, docsync.DocID(b))
	}
	return out, nil
}

// openCheckpointed opens every document with a checkpoint from it, before
// restore replays the entries after each (start only).
func (s *Service) openCheckpointed(ctx context.Context) error {
	docs, err := s.checkpointedDocs()
	if err != nil {
		return fmt.Errorf("seqservice: restore: %w", err)
	}
	for _, doc := range docs {
		seq, cp, err := s.newOrderer(doc)
		if err != nil {
			return err
		}
		d, err := s.openDoc(doc)
		if err != nil {
			return err
		}
		d.seq, d.ckptSeq, d.firstKept = seq, cp.checkpoint, cp.firstKept
		s.compacted.Store(doc, cp)
	}
	_ = ctx
	return nil
}

// docsOf is the set of documents of a batch.
func docsOf(out []ordered) map[*docState]bool {
	m := map[*docState]bool{}
	for _, o := range out {
		m[o.doc] = true
	}
	return m
}
