package cloneservice

import (
	"context"
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Following a takeover across branches (docsync's recover.go says what it
// is): a member whose branch left the others' at d, before the base S of
// a recovery's takeover (it was not connected when the admin collected
// the reports), asks a connected member for the heads of its chain, a
// window at a time back from S, until one agrees with ours
// (AgreedPrefix gives d), then for its entries d+1..S, and replaces its
// replica with the one docsync.Replica.FollowAcross makes of them: its
// entries after d replaced in one synced batch, as a rollback's are,
// after everything fetched verified. A member that is only behind (d is
// its head) fetches as usual.

// maxBridge and maxBridgeBytes bound the new chain's entries a member
// holds to follow a takeover across (they are all verified before any is
// kept): a branch that left more than this before the base is not
// followed (the clone logs it).
const (
	maxBridge      = 1 << 16
	maxBridgeBytes = 64 << 20
)

// followAcross starts fetching what following d's crossed takeover needs
// (loop only, from the document's timers).
func (s *Service) followAcross(d *docState) {
	mv := d.r.CrossedTakeover()
	if mv == nil || mv == d.rec.crossed || d.rec.crossing || d.broken != nil || (mv == d.rec.behind && d.r.Halted() == nil) {
		return
	}
	if h, ok := d.r.HeadAt(mv.Head.Seq); ok && h.ChainHash == mv.Head.ChainHash {
		return // followed already
	}
	p, ok := s.randomMember(d)
	if !ok {
		return
	}
	d.rec.crossing = true
	doc, base := d.id, mv.Envelope.Parent
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, recoverTimeout)
		defer cancel()
		at, bridge, err := s.bridgeOf(ctx, p, doc, base)
		s.post(func() {
			d := s.docs[doc]
			if d == nil {
				return
			}
			d.rec.crossing = false
			if err == nil {
				err = s.crossTo(d, mv, at, bridge)
			}
			if err != nil {
				d.rec.crossed = mv
				s.log.Error("cannot follow the takeover from another branch", "doc", doc,
					"takeover_seq", mv.Head.Seq, "seq", d.r.Log().Seq(), "member", p, "err", err)
			}
		})
	}()
}

// crossTo follows mv from at with bridge, the new chain's entries after at
// up to its base (loop only).
func (s *Service) crossTo(d *docState, mv *docsync.Entry, at uint64, bridge []*docsync.Entry) error {
	if at >= d.r.Log().Seq() && d.r.Halted() == nil {
		d.rec.behind = mv
		return nil // only behind: fetching gets the entries up to the takeover
	}
	d.rec.crossed = mv
	last := d.r.Log().Seq()
	err := s.replaceReplica(d, at, func(snap *docsync.SealedSnapshot, upTo, after []*docsync.Entry) (*docsync.Replica, error) {
		return d.r.FollowAcross(snap, upTo, after, bridge, mv)
	})
	if err != nil {
		return err
	}
	s.stats.rollbacks.Add(1)
	s.log.Warn("followed a takeover from another branch: rolled back to where the branches part, took the new chain's entries, and send our own edits after it again",
		"doc", d.id, "takeover_seq", mv.Head.Seq, "parted_at", at, "abandoned", last-at)
	return nil
}

// bridgeOf asks member p for the heads of its chain back from base, a
// window at a time, until one agrees with ours, then for its entries
// after the last agreeing seq up to base. It returns that seq and the
// entries (bounded by maxBridge), checked for order here and verified by
// FollowAcross.
func (s *Service) bridgeOf(ctx context.Context, p peer.ID, doc docsync.DocID, base uint64) (uint64, []*docsync.Entry, error) {
	hi := base
	var at uint64
	for round := 0; ; round++ {
		from := max(1, hi+1-min(hi, recoverWindow))
		es, err := s.net.FetchHistory(ctx, p, doc, from, hi)
		if err != nil {
			return 0, nil, err
		}
		var heads []docsync.Head
		for _, e := range es {
			if e.Head.Seq >= from && e.Head.Seq <= hi {
				heads = append(heads, e.Head)
			}
		}
		if len(heads) == 0 {
			return 0, nil, fmt.Errorf("%w: no heads %d..%d from %s", ErrRecovery, from, hi, p)
		}
		err = s.view(doc, func(d *docState) { at, err = d.r.AgreedPrefix(heads) })
		if err == nil {
			break
		}
		if !errors.Is(err, docsync.ErrDiverged) || from == 1 || round+1 >= maxReportRounds {
			return 0, nil, err
		}
		hi = from - 1
	}
	if base-at > maxBridge {
		return 0, nil, fmt.Errorf("%w: the branches part at seq %d, %d entries before the takeover's base", ErrRecovery, at, base-at)
	}
	var bridge []*docsync.Entry
	size := 0
	for next := at + 1; next <= base; {
		es, err := s.net.FetchHistory(ctx, p, doc, next, min(base, next+netproto.MaxHistoryBatch-1))
		if err != nil {
			return 0, nil, err
		}
		n0 := len(bridge)
		for _, e := range es {
			if e.Head.Seq == next {
				bridge = append(bridge, e)
				size += len(e.Envelope.Body) + len(e.Envelope.Sig) + len(e.Head.Sig)
				next++
			}
		}
		if size > maxBridgeBytes {
			return 0, nil, fmt.Errorf("%w: the new chain's entries after seq %d exceed %d bytes", ErrRecovery, at, maxBridgeBytes)
		}
		if len(bridge) == n0 {
			return 0, nil, fmt.Errorf("%w: %s served nothing from seq %d", ErrRecovery, p, next)
		}
	}
	return at, bridge, nil
}
