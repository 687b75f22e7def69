package seqservice

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Adopting a compacted document. A member that compacted its log answers
// a history request from seq 1 with netproto.CompactedError; the adopting
// sequencer then takes the genesis entry (which members keep), checks it
// and reads the genesis sequencer key from it, fetches the member's
// snapshot, verifies it against that key, its key schedule and its
// window (docsync.LogFromSnapshot), and starts the document from the log
// state at the snapshot's head, as if from a checkpoint of its own. The
// tail after the snapshot is then fetched and checked entry by entry as
// usual. The header's membership and counters are its maker's word,
// signed by the maker: a lie there only makes this (untrusted) sequencer
// order envelopes that the members refuse. What it writes before the tail
// (the genesis entry, the checkpoint and its compaction point) verified
// first, and a failed adoption deletes it (dropHistory).

// snapshotStart is where an adoption from a snapshot starts.
type snapshotStart struct {
	o    sequencer.Orderer
	next uint64       // the first seq of the tail
	cp   compactPoint // the compaction point written with the checkpoint
}

// startFromSnapshot builds doc's orderer from p's snapshot (off the loop).
func (s *Service) startFromSnapshot(p peer.ID, doc docsync.DocID, base uint64) (*snapshotStart, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.params.StreamTimeout)
	defer cancel()
	gs, err := netproto.FetchHistory(ctx, s.h, p, doc, 1, 1)
	if err != nil || len(gs) != 1 {
		return nil, fmt.Errorf("seqservice: adopt: genesis entry: %w (%d entries)", err, len(gs))
	}
	genesisKey, err := docsync.GenesisSequencer(doc, gs[0])
	if err != nil {
		return nil, fmt.Errorf("seqservice: adopt: %w", err)
	}
	snap, err := netproto.FetchSnapshot(ctx, s.h, p, doc)
	if err != nil {
		return nil, fmt.Errorf("seqservice: adopt: snapshot: %w", err)
	}
	if snap.Head.Doc != doc || snap.Seq() < 2 || snap.Seq() > base+1 {
		return nil, fmt.Errorf("%w: a snapshot at seq %d for a history of %d", ErrNotMove, snap.Seq(), base)
	}
	l, err := docsync.LogFromSnapshot(snap, genesisKey)
	if err != nil {
		return nil, fmt.Errorf("seqservice: adopt: snapshot: %w", err)
	}
	o := s.opts.factory(doc, s.key)
	c, ok := o.(checkpointer)
	if !ok {
		return nil, fmt.Errorf("seqservice: adopt: this sequencer cannot start from a snapshot")
	}
	if err := c.RestoreCheckpoint(l); err != nil {
		return nil, err
	}
	ck, err := l.Checkpoint(s.params.CheckpointWindow)
	if err != nil {
		return nil, err
	}
	gb, err := gs[0].Marshal()
	if err != nil {
		return nil, err
	}
	st := &snapshotStart{o: o, next: snap.Seq() + 1, cp: compactPoint{firstKept: snap.Seq() + 1, checkpoint: snap.Seq()}}
	b, err := s.ds.Batch(s.ctx)
	if err != nil {
		return nil, err
	}
	for _, kv := range []struct {
		k datastore.Key
		v []byte
	}{{ckptKey(doc), ck}, {ckptFirstKey(doc), binary.BigEndian.AppendUint64(nil, st.cp.firstKept)},
		{entryKey(doc, 1), gb}} {
		if err := b.Put(s.ctx, kv.k, kv.v); err != nil {
			return nil, err
		}
	}
	if err := b.Commit(s.ctx); err != nil {
		return nil, err
	}
	if err := s.ds.Sync(s.ctx, datastore.NewKey("/")); err != nil {
		return nil, err
	}
	s.log.Info("adopting from a member's snapshot", "doc", doc, "snapshot_seq", snap.Seq(), "maker", snap.Maker, "moves", len(l.Moves()))
	return st, nil
}

// isCompacted reports whether a history answer says the range is behind
// the member's snapshot.
func isCompacted(err error) bool {
	var ce *netproto.CompactedError
	return errors.As(err, &ce)
}
