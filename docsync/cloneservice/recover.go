package cloneservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Recovery from a sequencer that forked, tampered or withheld (docsync's
// recover.go says what it is). A document stopped by a fork proof or by
// evidence stays stopped only while it is on the sequencer they implicate.
// An admin's clone recovers it: by the admin's command (Move on a stopped
// document), or by itself to the standby (WithStandby) once the alarm is
// up. It asks every connected member for the sequencer-signed heads of its
// chain (the history protocol: a member serves the entries it stored, on
// whichever branch it is), takes the last seq every chain shares, and
// takes over from it (docsync.Replica.TakeoverFrom), its entries after it
// replaced in one synced batch, as a rollback's are. The other members
// follow the takeover: a stopped document still takes takeover entries
// (from the entries topic, where the new sequencer publishes to members
// without a feed to it, and from a member, asked every FetchRetry), and
// rolls back to it (move.go's rollback); one whose branch left the
// others' before the takeover's base follows it across (across.go).

// recoverTimeout bounds the head reports of one recovery.
const recoverTimeout = time.Minute

// recState is a document's recovery state (loop only).
type recState struct {
	busy    bool      // head reports are being collected
	err     error     // why the last recovery a Move waits for did not start
	probeAt time.Time // when a stopped member last asked a member for a takeover
	probes  int       // probes since the document stopped (backoff and window)
	// proofFor and proofKey cache the key that signed d.proof's heads.
	proofFor *docsync.ForkProof
	proofKey []byte
	// crossing is set while the new chain's entries for a takeover from
	// another branch are fetched; crossed is the takeover last tried, and
	// behind the last one we found we were only behind (tried again if a
	// fork halts us).
	crossing        bool
	crossed, behind *docsync.Entry
}

// ErrRecovery: a recovery could not start or find the agreed head.
var ErrRecovery = errors.New("cloneservice: recovery from the sequencer failed")

// proofSigner returns the key that signed d.proof: the genesis sequencer's
// or one the document moved to (nil if none does, which a proof verified
// before it was kept cannot be).
func (d *docState) proofSigner() []byte {
	if d.rec.proofFor == d.proof {
		return d.rec.proofKey
	}
	d.rec.proofFor, d.rec.proofKey = d.proof, d.signerOf(d.proof)
	return d.rec.proofKey
}

// misbehaved returns the alarm that stops d: a fork proof or evidence
// against the sequencer d is on now (nil once it moved away from it).
func (d *docState) misbehaved() error {
	cur := d.r.Log().Sequencer()
	if d.proof != nil {
		if k := d.proofSigner(); k == nil || bytes.Equal(k, cur) {
			return docsync.ErrHalted
		}
	}
	for _, ev := range d.evidence {
		if bytes.Equal(ev.Sequencer, cur) {
			return fmt.Errorf("%w: %w (%v)", docsync.ErrHalted, ErrMisbehaved, ev.Kind)
		}
	}
	return nil
}

// admits reports whether e goes to d's replica: everything while d runs;
// while a misbehaviour alarm stops it, only a takeover (recovery).
func (d *docState) admits(e *docsync.Entry) bool {
	if d.stopped() == nil {
		return true
	}
	if d.broken != nil {
		return false
	}
	return isTakeover(&e.Envelope)
}

// isTakeover reports whether env is a takeover move.
func isTakeover(env *docsync.Envelope) bool {
	op, ok := docsync.MoveOf(env)
	return ok && op.Takeover
}

// tickStopped runs the timers of a document a misbehaviour alarm stopped
// (loop only, from tick): follow a takeover, resend our own, ask a member
// for one, and recover to the standby if we are an admin.
func (s *Service) tickStopped(d *docState, now time.Time) {
	if d.broken != nil {
		return
	}
	if mc := d.r.MoveConflict(); mc != nil && mc != d.mv.noRollback {
		s.rollback(d, mc)
		return
	}
	s.followAcross(d)
	if s.takeoverInFlight(d) && now.Sub(d.submitted) >= s.params.ResubmitAfter {
		d.r.Resubmit() // our takeover: the adopt request is sent again
		s.handleReady(d)
		return
	}
	// Ask a member for a takeover: every FetchRetry at first, backing off
	// to one a minute, so that a document nobody recovers costs a member
	// one small history request a minute.
	if now.Sub(d.rec.probeAt) >= min(s.params.FetchRetry<<min(d.rec.probes, 16), time.Minute) {
		d.rec.probeAt = now
		s.probeTakeover(d, recoverWindow<<min(d.rec.probes, 4))
		d.rec.probes++
	}
	if sb := s.opts.standby; sb != nil && now.Sub(d.mv.autoAt) >= s.params.StallAfter {
		key, err := netproto.MemberOf(sb.ID)
		if err != nil || bytes.Equal(key[:], d.r.Log().Sequencer()) || !s.isAdmin(d) || s.takeoverInFlight(d) {
			return
		}
		d.mv.autoAt = now
		s.log.Warn("sequencer misbehaved: recovering the document onto the standby sequencer", "doc", d.id,
			"alarm", netproto.ShortError(d.stopped()), "standby", sb.ID)
		if err := s.startRecovery(d, *sb, nil); err != nil {
			s.log.Warn("automatic recovery not possible yet", "doc", d.id, "err", err)
		}
	}
}

// isAdmin reports whether this clone administers d.
func (s *Service) isAdmin(d *docState) bool {
	m, ok := d.r.Log().Membership().Get(s.me)
	return ok && m.Role == docsync.RoleAdmin
}

// takeoverInFlight reports whether our takeover envelope is on its way.
func (s *Service) takeoverInFlight(d *docState) bool {
	env := d.r.InFlight()
	return env != nil && isTakeover(env)
}

// probeTakeover asks a connected member for the entries from window
// before our head to the next seq, where a takeover we can follow would
// be: a stopped member that missed its gossip finds it (loop only).
func (s *Service) probeTakeover(d *docState, window uint64) {
	p, ok := s.randomMember(d)
	if !ok {
		return
	}
	seq := d.r.Log().Seq()
	from := max(1, seq+2-min(seq+1, window, netproto.MaxHistoryBatch))
	doc := d.id
	s.goDo(func(ctx context.Context) {
		es, err := s.net.FetchHistory(ctx, p, doc, from, seq+1)
		if err != nil {
			return
		}
		// One entry asked for also brings the member's latest takeover
		// (TakeoverFor): one from a base after our head, which we follow
		// across (across.go).
		if one, err := s.net.FetchHistory(ctx, p, doc, seq+1, seq+1); err == nil {
			es = append(es, one...)
		}
		s.post(func() { s.onEntries(doc, es) })
	})
}

// startRecovery collects the members' head reports for d and then takes
// over to seq from the last head every chain shares (loop only). done, if
// set, gets the outcome of the takeover's start.
func (s *Service) startRecovery(d *docState, seq peer.AddrInfo, done func(error)) error {
	key, err := netproto.MemberOf(seq.ID)
	if err != nil {
		return err
	}
	switch {
	case d.broken != nil:
		return d.broken
	case !s.isAdmin(d):
		return fmt.Errorf("%w: only admins move a document", docsync.ErrNoWriteRight)
	case bytes.Equal(key[:], d.r.Log().Sequencer()):
		return fmt.Errorf("%w: the document is on that sequencer already", docsync.ErrBadMemberOp)
	case d.rec.busy:
		return fmt.Errorf("%w: a recovery is under way", docsync.ErrNotReady)
	}
	var members []peer.ID
	for _, m := range d.r.Log().Membership().Members() {
		if m.ID == s.me {
			continue
		}
		if p, err := netproto.PeerOf(m.ID[:]); err == nil && s.net.Connected(p) {
			members = append(members, p)
		}
	}
	d.rec.busy = true
	doc, top := d.id, d.r.Log().Seq()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, recoverTimeout)
		defer cancel()
		reports := make([][]docsync.Head, len(members))
		var asked sync.WaitGroup
		for i, p := range members { // at once: one slow member costs one timeout, not one each
			asked.Go(func() { reports[i] = s.reportOf(ctx, p, doc, top) })
		}
		asked.Wait()
		s.post(func() {
			d := s.docs[doc]
			if d == nil {
				return
			}
			d.rec.busy = false
			err := s.takeoverFromAgreed(d, seq, members, reports)
			if err != nil {
				s.log.Warn("recovery did not start", "doc", doc, "err", err)
			}
			if done != nil {
				done(err)
			}
		})
	}()
	return nil
}

// reportOf asks member p for the heads of its chain, from recoverWindow
// before our head top to top, then for earlier windows while its chain
// differs at the first head (the loop checks each with AgreedPrefix on
// the next round; here a report that ends before from also goes earlier).
// It returns every head it got, in seq order.
func (s *Service) reportOf(ctx context.Context, p peer.ID, doc docsync.DocID, top uint64) []docsync.Head {
	hi := top
	var out []docsync.Head
	for range maxReportRounds {
		from := max(1, hi+1-min(hi, recoverWindow))
		es, err := s.net.FetchHistory(ctx, p, doc, from, hi)
		if err != nil {
			return out
		}
		var hs []docsync.Head
		for _, e := range es {
			hs = append(hs, e.Head)
		}
		out = append(hs, out...)
		if from == 1 {
			return out
		}
		if len(es) > 0 && s.agreesAt(doc, es[0].Head) {
			return out
		}
		hi = from - 1
	}
	return out
}

// recoverWindow is how many heads back from our head a member reports at
// first; maxReportRounds bounds the earlier windows asked for.
const (
	recoverWindow   = 64
	maxReportRounds = 16
)

// agreesAt reports whether h is on our chain (read through the loop).
func (s *Service) agreesAt(doc docsync.DocID, h docsync.Head) bool {
	agrees := false
	_ = s.view(doc, func(d *docState) {
		mine, ok := d.r.Log().HashAt(h.Seq)
		agrees = ok && mine == h.ChainHash
	})
	return agrees
}

// takeoverFromAgreed takes d over to seq from the last seq that our chain
// and every member's report share (loop only).
func (s *Service) takeoverFromAgreed(d *docState, seq peer.AddrInfo, members []peer.ID, reports [][]docsync.Head) error {
	if d.broken != nil {
		return d.broken
	}
	base := d.r.Log().Seq()
	for i, hs := range reports {
		if len(hs) == 0 {
			s.log.Warn("no head report from a member: if its branch left ours before the agreed seq, it follows across when it is back", "doc", d.id, "member", members[i])
			continue
		}
		a, err := d.r.AgreedPrefix(hs)
		if err != nil {
			return fmt.Errorf("%w: the report of %s: %w", ErrRecovery, members[i], err)
		}
		base = min(base, a)
	}
	key, err := netproto.MemberOf(seq.ID)
	if err != nil {
		return err
	}
	addr := s.rememberAddrs(seq)
	last := d.r.Log().Seq()
	err = s.replaceReplica(d, base, func(snap *docsync.SealedSnapshot, upTo, after []*docsync.Entry) (*docsync.Replica, error) {
		return d.r.TakeoverFrom(snap, upTo, after, key[:], addr)
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRecovery, err)
	}
	s.stats.recoveries.Add(1)
	s.log.Warn("recovering: took the document over to a new sequencer from the last head every member shares",
		"doc", d.id, "agreed_seq", base, "abandoned", last-base, "sequencer", seq.ID, "members_reporting", len(members))
	return nil
}
