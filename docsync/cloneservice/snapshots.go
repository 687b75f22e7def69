package cloneservice

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Snapshots and compaction (docs/snapshots.md). Every SnapshotEvery
// committed entries the clone seals a snapshot of its committed state and,
// in the same synced batch, deletes the entries before the last
// KeepHistory ones (the genesis entry stays: invitations carry it). A
// restart continues from the snapshot and the entries after it; a history
// request for a deleted range gets a "compacted" answer naming the
// snapshot, which members fetch on netproto.SnapshotProtocol. A clone
// invited to a document starts from its inviter's snapshot when it has
// one, not from seq 1.

func snapKey(doc docsync.DocID) datastore.Key { return datastore.NewKey(docPrefix(doc) + "/snap") }

// firstKeptKey holds the first seq (after the genesis) whose entry is kept.
func firstKeptKey(doc docsync.DocID) datastore.Key {
	return datastore.NewKey(docPrefix(doc) + "/firstkept")
}

// snapState is a document's kept snapshot and compaction point (loop only).
type snapState struct {
	snap      *docsync.SealedSnapshot
	firstKept uint64 // entries 2..firstKept-1 are deleted; 0 or 2: none
}

// compacted answers a history request from..to behind the compaction point.
func (ss *snapState) compacted(from uint64) error {
	if ss.snap == nil || ss.firstKept <= 2 || from >= ss.firstKept {
		return nil
	}
	return &netproto.CompactedError{FirstKept: ss.firstKept, Snapshot: ss.snap.Seq()}
}

// maybeSnapshot seals a snapshot once SnapshotEvery entries were committed
// since the last one, and compacts (loop only, after the Ready is durable).
func (s *Service) maybeSnapshot(d *docState) {
	every := s.params.SnapshotEvery
	if every == 0 || d.stopped() != nil {
		return
	}
	seq := d.r.Log().Seq()
	if last := d.snaps.lastSeq(); seq < last+every {
		return
	}
	snap, err := d.r.SealSnapshot(s.params.SnapshotWindow)
	if err != nil {
		return // locked content or no key yet: a later commit tries again
	}
	if env := d.r.InFlight(); env != nil && env.Parent < snap.WindowBase {
		return // a restart from it could not re-derive our in-flight edit
	}
	if err := s.keepSnapshot(d, snap); err != nil {
		d.broken = fmt.Errorf("%w: %w", ErrStorage, err)
		s.log.Error("document stopped: cannot persist its snapshot", "doc", d.id, "err", err)
		s.stopObservers(d, d.broken)
	}
}

// keepSnapshot writes snap and deletes the entries it makes unnecessary,
// beyond KeepHistory, in one synced batch: after a crash either the old
// snapshot and all its entries are on disk, or the new one and the tail.
func (s *Service) keepSnapshot(d *docState, snap *docsync.SealedSnapshot) error {
	first := max(d.snaps.firstKept, 2)
	newFirst := first
	if keep := s.params.KeepHistory; snap.Seq()+1 > keep {
		newFirst = max(first, snap.Seq()+1-keep)
	}
	b, err := s.ds.Batch(s.ctx)
	if err != nil {
		return err
	}
	if err := b.Put(s.ctx, snapKey(d.id), snap.Bytes()); err != nil {
		return err
	}
	if err := b.Put(s.ctx, firstKeptKey(d.id), binary.BigEndian.AppendUint64(nil, newFirst)); err != nil {
		return err
	}
	for seq := first; seq < newFirst; seq++ {
		if err := b.Delete(s.ctx, entryKey(d.id, seq)); err != nil {
			return err
		}
	}
	if err := b.Commit(s.ctx); err != nil {
		return err
	}
	if err := s.ds.Sync(s.ctx, docKey(d.id)); err != nil {
		return err
	}
	d.snaps = snapState{snap: snap, firstKept: newFirst}
	s.log.Debug("snapshot kept", "doc", d.id, "seq", snap.Seq(), "bytes", len(snap.Bytes()), "first_kept", newFirst)
	return nil
}

func (ss *snapState) lastSeq() uint64 {
	if ss.snap == nil {
		return 0
	}
	return ss.snap.Seq()
}

// loadSnapshot reads a document's kept snapshot and compaction point (nil
// snapshot: none). It was verified before it was written.
func loadSnapshot(ctx context.Context, ds datastore.Datastore, doc docsync.DocID) (snapState, error) {
	var ss snapState
	b, err := ds.Get(ctx, snapKey(doc))
	if errors.Is(err, datastore.ErrNotFound) {
		return ss, nil
	}
	if err != nil {
		return ss, err
	}
	if ss.snap, err = docsync.DecodeSealedSnapshot(b); err != nil {
		return ss, fmt.Errorf("snapshot: %w", err)
	}
	fb, err := ds.Get(ctx, firstKeptKey(doc))
	if err != nil {
		return ss, fmt.Errorf("compaction point: %w", err)
	}
	if len(fb) != 8 {
		return ss, fmt.Errorf("compaction point of %d bytes", len(fb))
	}
	ss.firstKept = binary.BigEndian.Uint64(fb)
	return ss, nil
}

// handleSnapshot serves our kept snapshot to the document's current
// members and to the sequencer we asked to adopt it.
func (s *Service) handleSnapshot(st network.Stream) {
	err := netproto.ServeSnapshot(st, func(who peer.ID, doc docsync.DocID) ([]byte, error) {
		if !s.historyRate.Allow(who, s.now()) {
			s.refusals.Refuse(who.String(), "snapshot_rate", nil)
			return nil, ErrRateLimited
		}
		m, err := netproto.MemberOf(who)
		if err != nil {
			return nil, err
		}
		var out []byte
		member := false
		if err := s.view(doc, func(d *docState) {
			_, member = d.r.Log().Membership().Get(m)
			member = member || d.mayFetchHistory(who) // the sequencer adopting a compacted document
			if d.snaps.snap != nil {
				out = d.snaps.snap.Bytes()
			}
		}); err != nil && !errors.Is(err, ErrUnknownDoc) {
			return nil, err
		}
		if !member {
			s.refusals.Refuse(who.String(), "snapshot_not_member", nil)
			return nil, ErrNotMember
		}
		return out, nil
	}, s.params.StreamTimeout)
	if err != nil {
		s.stats.badStreams.Add(1)
	}
}

// snapshotFrom fetches p's snapshot of doc for a clone about to join it
// (off the loop). Any failure means joining by replay from seq 1.
func (s *Service) snapshotFrom(ctx context.Context, p peer.ID, doc docsync.DocID) *docsync.SealedSnapshot {
	ctx, cancel := context.WithTimeout(ctx, s.params.StreamTimeout)
	defer cancel()
	snap, err := netproto.FetchSnapshot(ctx, s.h, p, doc)
	if err != nil {
		s.log.Debug("no snapshot to join from; replaying from seq 1", "doc", doc, "peer", p, "err", netproto.ShortError(err))
		return nil
	}
	return snap
}

// joinReplica is the replica of a document this clone was invited to:
// joined from snap, made by the inviter, when it verifies (loop only).
// What it starts from is written before the meta record that makes the
// document load at start: the snapshot, the genesis entry the invitation
// carried (verified with it) and the compaction point.
func (s *Service) joinReplica(inv *netproto.Invitation, snap *docsync.SealedSnapshot) (*docsync.Replica, snapState, error) {
	cfg := s.config(inv.Doc, inv)
	if snap == nil || inv.Added == nil || inv.Genesis == nil || snap.Seq() < 2 {
		r, err := docsync.New(cfg)
		return r, snapState{}, err
	}
	inviter := inv.Added.Envelope.Author
	r, err := docsync.Join(cfg, snap, func(m docsync.MemberID) bool { return m == inviter })
	if err != nil {
		s.log.Warn("refused the inviter's snapshot; replaying from seq 1", "doc", inv.Doc, "err", err)
		r, err := docsync.New(cfg)
		return r, snapState{}, err
	}
	ss := snapState{snap: snap, firstKept: snap.Seq() + 1}
	gb, err := inv.Genesis.Marshal()
	if err != nil {
		return nil, ss, err
	}
	b, err := s.ds.Batch(s.ctx)
	if err != nil {
		return nil, ss, err
	}
	for _, kv := range []struct {
		k datastore.Key
		v []byte
	}{{snapKey(inv.Doc), snap.Bytes()}, {firstKeptKey(inv.Doc), binary.BigEndian.AppendUint64(nil, ss.firstKept)},
		{entryKey(inv.Doc, 1), gb}} {
		if err := b.Put(s.ctx, kv.k, kv.v); err != nil {
			return nil, ss, err
		}
	}
	if err := b.Commit(s.ctx); err != nil {
		return nil, ss, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := s.ds.Sync(s.ctx, docKey(inv.Doc)); err != nil {
		return nil, ss, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	s.log.Info("joined from a snapshot", "doc", inv.Doc, "seq", snap.Seq(), "bytes", len(snap.Bytes()))
	return r, ss, nil
}
