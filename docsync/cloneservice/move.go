package cloneservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Moving documents to another sequencer (docsync's move.go says what a
// move is). Move is the admin's command: a planned handover, ordered by
// the current sequencer, or a takeover, ordered by the new one. With a
// standby configured (WithStandby), an admin's clone whose stall alarm is
// up takes over to the standby by itself. Every member follows a move it
// committed: it sends to and fetches from the new sequencer, its topic
// validators accept the new key, and it resubmits its envelope in flight.
// The new sequencer learns the history before the move from a member: the
// member sends it an adopt request (netproto.AdoptProtocol) and serves it
// the history; after a handover every member does, until one succeeds.

// adoptTimeout bounds one adopt request: the sequencer fetches the whole
// history before it answers.
const adoptTimeout = 2 * time.Minute

// moveState is a document's sequencer-move state (loop only, except keys).
type moveState struct {
	// keys is read by the topic validators.
	keys atomic.Pointer[seqKeys]
	// adoptTo is the sequencer we asked to adopt the document: it may
	// fetch our history.
	adoptTo peer.ID
	// handover is the seq of a handover the new sequencer has not
	// confirmed to us yet (0: none); adopted is the last it confirmed.
	handover, adopted uint64
	adoptAt           time.Time // when the last adopt request went out
	adoptBusy         bool
	adoptFails        int       // adopt requests refused in a row (backoff)
	autoAt            time.Time // the last automatic takeover
	// noRollback is the takeover entry a rollback failed for (not tried again).
	noRollback *docsync.Entry
	// feedReset ends the open feed (feed.go), which is at the sequencer
	// the document was on when it opened.
	feedReset func()
}

// seqKeys are the sequencer keys a document's topics may carry: the
// current one, and the ones it left (their later messages are ignored).
type seqKeys struct {
	current []byte
	old     [][]byte
}

// WithStandby configures the standby sequencer (its peer ID and addresses):
// when the stall alarm of a document this clone administers is up, the
// clone moves the document to it (a takeover).
func WithStandby(ai peer.AddrInfo) Option {
	return func(o *options) error {
		if _, err := netproto.MemberOf(ai.ID); err != nil {
			return fmt.Errorf("cloneservice: standby sequencer: %w", err)
		}
		o.standby = &ai
		return nil
	}
}

// followSequencer points d at the sequencer its log is on now (loop only,
// or before the loop starts): submissions, fetches and topic validators.
func (s *Service) followSequencer(d *docState) {
	l := d.r.Log()
	keys := &seqKeys{current: append([]byte(nil), l.Sequencer()...)}
	if n := len(l.Moves()); n > 0 {
		keys.old = append(keys.old, d.meta.Sequencer)
		for _, m := range l.Moves()[:n-1] {
			keys.old = append(keys.old, m.Sequencer)
		}
	}
	d.mv.keys.Store(keys)
	p, err := netproto.PeerOf(keys.current)
	if err != nil {
		return // a move names a 32-byte key: every Ed25519 key is a peer ID
	}
	d.seqPeer = p
	if a := l.SequencerAddr(); a != "" {
		if ai, err := addrInfoOf(a, p); err == nil && len(ai.Addrs) > 0 {
			s.h.Peerstore().AddAddrs(p, ai.Addrs, time.Hour)
		}
	}
}

// addrInfoOf parses a move's address hint; a /p2p part must name p.
func addrInfoOf(a string, p peer.ID) (peer.AddrInfo, error) {
	m, err := ma.NewMultiaddr(a)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{m}}, nil
	}
	if ai.ID != p {
		return peer.AddrInfo{}, fmt.Errorf("cloneservice: address names peer %s, not the sequencer %s", ai.ID, p)
	}
	return *ai, nil
}

// onMoved follows a committed move (loop only, from notify).
func (s *Service) onMoved(d *docState, ev docsync.Event) {
	s.followSequencer(d)
	d.rec.probes = 0 // a later alarm probes from the start again (recover.go)
	if d.mv.feedReset != nil {
		d.mv.feedReset() // the feed reopens at the new sequencer
		d.mv.feedReset = nil
	}
	s.stats.moves.Add(1)
	s.log.Info("document moved to another sequencer", "doc", d.id, "seq", ev.Seq, "sequencer", d.seqPeer,
		"takeover", ev.Op.Takeover)
	s.emit(d, Event{Kind: EventMoved, Seq: ev.Seq, Member: ev.Op})
	// The latest handover only: a restart replays every move, and the
	// earlier ones were adopted by sequencers the document has left.
	if !ev.Op.Takeover && bytes.Equal(ev.Op.Sequencer, d.r.Log().Sequencer()) {
		d.mv.handover, d.mv.adoptFails = ev.Seq, 0
		s.pushAdopt(d, nil)
	}
}

// sendTakeover sends our takeover envelope to the sequencer it names, as
// an adopt request (loop only, from send).
func (s *Service) sendTakeover(d *docState, env *docsync.Envelope) { s.pushAdopt(d, env) }

// pushAdopt asks the new sequencer to adopt the document: with our
// takeover envelope, or (env nil) with the handover entry d.mv.handover
// (loop only).
func (s *Service) pushAdopt(d *docState, env *docsync.Envelope) {
	if d.mv.adoptBusy {
		return
	}
	req := &netproto.AdoptRequest{Takeover: env}
	to := d.seqPeer
	if env != nil {
		op, _ := docsync.MoveOf(env)
		p, err := netproto.PeerOf(op.Sequencer)
		if err != nil {
			return
		}
		to = p
		if a := op.SequencerAddr; a != "" {
			if ai, err := addrInfoOf(a, p); err == nil {
				s.h.Peerstore().AddAddrs(p, ai.Addrs, time.Hour)
			}
		}
	} else {
		b, err := s.ds.Get(s.ctx, entryKey(d.id, d.mv.handover))
		if err != nil {
			return
		}
		if req.Handover, err = docsync.DecodeEntry(b); err != nil {
			return
		}
	}
	b, err := req.Marshal()
	if err != nil {
		return
	}
	d.mv.adoptTo, d.mv.adoptAt, d.mv.adoptBusy = to, s.now(), true
	doc, seq := d.id, d.mv.handover
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, adoptTimeout)
		defer cancel()
		reply, err := s.net.Request(ctx, to, netproto.AdoptProtocol, b, docsync.MaxEntryBytes)
		var e *docsync.Entry
		if err == nil {
			e, err = docsync.DecodeEntry(reply)
		}
		s.post(func() {
			d := s.docs[doc]
			if d == nil {
				return
			}
			d.mv.adoptBusy = false
			if err != nil {
				d.mv.adoptFails++
				lvl := slog.LevelDebug
				if d.mv.adoptFails == 1 {
					lvl = slog.LevelWarn
				}
				s.log.Log(s.ctx, lvl, "the new sequencer did not adopt the document (retrying with backoff)", "doc", doc,
					"sequencer", to, "attempt", d.mv.adoptFails, "err", netproto.ShortError(err))
				return
			}
			d.mv.adoptFails = 0
			if env == nil && d.mv.handover == seq {
				d.mv.handover, d.mv.adopted = 0, seq
				// What we sent it before it held the document was refused:
				// send it again now rather than at the next resubmit.
				d.r.Resubmit()
			}
			s.onEntries(doc, []*docsync.Entry{e})
			s.checkWaiters()
		})
	}()
}

// tickMove retries an unconfirmed handover and runs the automatic
// failover to the standby (loop only, from tick).
func (s *Service) tickMove(d *docState, now time.Time) {
	if mc := d.r.MoveConflict(); mc != nil && mc != d.mv.noRollback {
		s.rollback(d, mc)
	}
	s.followAcross(d)
	if d.mv.handover != 0 && now.Sub(d.mv.adoptAt) >= min(s.params.ResubmitAfter/4<<min(d.mv.adoptFails, 16), time.Minute) {
		s.pushAdopt(d, nil)
	}
	sb := s.opts.standby
	if sb == nil || d.stall.raised == nil || d.stopped() != nil || now.Sub(d.mv.autoAt) < s.params.StallAfter {
		return
	}
	key, err := netproto.MemberOf(sb.ID)
	if err != nil || bytes.Equal(key[:], d.r.Log().Sequencer()) {
		return
	}
	if m, ok := d.r.Log().Membership().Get(s.me); !ok || m.Role != docsync.RoleAdmin {
		return // members that are not admins follow the admins' signed move
	}
	if env := d.r.InFlight(); env != nil {
		if op, ok := docsync.MoveOf(env); ok && op.Takeover {
			return // ours is on its way
		}
	}
	d.mv.autoAt = now
	s.log.Warn("sequencer stalled: moving the document to the standby sequencer", "doc", d.id,
		"stalled", d.stall.raised.Reason.String(), "standby", sb.ID)
	if err := s.startTakeover(d, *sb); err != nil {
		s.log.Warn("automatic failover not possible yet", "doc", d.id, "err", err)
	}
}

// startMove asks the replica for a move to seq (loop only).
func (s *Service) startMove(d *docState, seq peer.AddrInfo, takeover bool) error {
	key, err := netproto.MemberOf(seq.ID)
	if err != nil {
		return err
	}
	addr := s.rememberAddrs(seq)
	if takeover {
		err = d.r.Takeover(key[:], addr)
	} else {
		err = d.r.Move(key[:], addr)
	}
	if err != nil {
		return err
	}
	return s.handleReady(d)
}

// startTakeover is startMove for a takeover from our head; while entries
// we know of are withheld (Takeover refuses then), it recovers from the
// head every member shares instead (loop only).
func (s *Service) startTakeover(d *docState, seq peer.AddrInfo) error {
	err := s.startMove(d, seq, true)
	if _, _, missing := d.r.Missing(); errors.Is(err, docsync.ErrNotReady) && missing {
		return s.startRecovery(d, seq, nil)
	}
	return err
}

// rememberAddrs adds seq's addresses to the peerstore and returns the
// first as a /p2p address, the hint a move carries ("" if none).
func (s *Service) rememberAddrs(seq peer.AddrInfo) string {
	if len(seq.Addrs) == 0 {
		return ""
	}
	s.h.Peerstore().AddAddrs(seq.ID, seq.Addrs, time.Hour)
	full, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: seq.ID, Addrs: seq.Addrs[:1]})
	if err != nil {
		return ""
	}
	return full[0].String()
}

// Move moves doc to the sequencer seq (its peer ID is its key; Addrs are
// where members reach it). A planned move (takeover false) is ordered by
// the current sequencer; a takeover is ordered by the new one, from this
// clone's head, for a current sequencer that stopped (or, while it
// withholds entries this clone knows exist, from the last head every
// member shares). On a document stopped by a fork proof or evidence it
// recovers it, whatever takeover says: a takeover from the last head every
// member's chain shares (recover.go). It returns once the move is
// committed here and the new sequencer holds the history.
func (s *Service) Move(ctx context.Context, doc docsync.DocID, seq peer.AddrInfo, takeover bool) (docsync.Move, error) {
	key, err := netproto.MemberOf(seq.ID)
	if err != nil {
		return docsync.Move{}, err
	}
	var merr error
	recovering := false
	if err := s.do(ctx, func() {
		d := s.docs[doc]
		if d == nil {
			merr = ErrUnknownDoc
			return
		}
		s.wakeDoc(d) // a move talks with members on the topics
		switch {
		case d.broken != nil:
			merr = d.broken
		case d.misbehaved() != nil:
			// A fork, tamper or forged seq: only a takeover from the
			// head every member shares recovers (recover.go).
			takeover, recovering = true, true
			d.rec.err = nil
			merr = s.startRecovery(d, seq, func(err error) { d.rec.err = err })
		case takeover:
			merr = s.startTakeover(d, seq)
		default:
			merr = s.startMove(d, seq, false)
		}
	}); err != nil {
		return docsync.Move{}, err
	}
	if merr != nil {
		return docsync.Move{}, merr
	}
	var mv docsync.Move
	err = s.wait(ctx, doc, func(d *docState) (bool, error) {
		moves := d.r.Log().Moves()
		if len(moves) == 0 || !bytes.Equal(moves[len(moves)-1].Sequencer, key[:]) {
			if recovering {
				// Stopped until the takeover commits; a recovery that did not start ends the wait.
				if d.rec.err != nil {
					return false, d.rec.err
				}
				return false, d.broken
			}
			return false, d.stopped()
		}
		mv = moves[len(moves)-1]
		return takeover || d.mv.adopted >= mv.Seq, d.stopped()
	})
	return mv, err
}

// mayFetchHistory reports whether peer p may fetch d's history although it
// is no member: the sequencer d is on, or the one we asked to adopt it.
func (d *docState) mayFetchHistory(p peer.ID) bool {
	return p == d.seqPeer || (p == d.mv.adoptTo && p != "")
}

// validateMovedEntry is the entries validator's answer for an entry its
// current sequencer key did not sign: a takeover signed by the key it
// names is accepted (the replica checks the rest); one signed by a
// sequencer the document left is ignored; anything else is rejected.
func (s *Service) validateMovedEntry(doc docsync.DocID, keys *seqKeys, from peer.ID, m *pubsub.Message,
	e *docsync.Entry, err error) pubsub.ValidationResult {
	if op, ok := docsync.MoveOf(&e.Envelope); ok && op.Takeover && e.Envelope.VerifyAuthor() == nil {
		if v, verr := docsync.VerifyEntrySignature(e, op.Sequencer); verr == nil {
			return s.verdict("entry message", doc, from, m, v, nil)
		}
	}
	if signedByOld(keys, e.Head) {
		return pubsub.ValidationIgnore
	}
	return s.verdict("entry message", doc, from, m, nil, err)
}

// signedByOld reports whether a sequencer the document left signed h.
func signedByOld(keys *seqKeys, h docsync.Head) bool {
	for _, k := range keys.old {
		if h.Verify(k) == nil {
			return true
		}
	}
	return false
}

// rollback follows a takeover that continues from an older head than ours
// (docsync.Replica.Rollback), after a fork too: the entries after its base
// are replaced by the move in one synced batch with the new Pending, and
// the devices get the text change (loop only).
func (s *Service) rollback(d *docState, mv *docsync.Entry) {
	err := s.replaceReplica(d, mv.Head.Seq-1, func(snap *docsync.SealedSnapshot, upTo, after []*docsync.Entry) (*docsync.Replica, error) {
		return d.r.RollbackFromSnapshot(snap, upTo, after, mv)
	})
	if err != nil {
		d.mv.noRollback = mv
		s.log.Error("cannot follow the takeover: this clone committed more from the previous sequencer", "doc", d.id,
			"takeover_seq", mv.Head.Seq, "seq", d.r.Log().Seq(), "err", err)
		return
	}
	s.stats.rollbacks.Add(1)
	s.log.Warn("rolled back to follow a takeover from an older head; our own edits after it are sent again",
		"doc", d.id, "takeover_seq", mv.Head.Seq)
}

// replaceReplica replaces d's replica by the one mk makes from what is
// stored: the kept snapshot (nil if none), the entries after it up to
// base and the ones after base (possibly none). The entries after base
// are deleted in the batch that writes the new replica's entries (a
// rollback's move) and Pending, synced; a restart after it replays
// 1..base, then what the new replica committed (loop only).
func (s *Service) replaceReplica(d *docState, base uint64, mk func(snap *docsync.SealedSnapshot, upTo, after []*docsync.Entry) (*docsync.Replica, error)) error {
	st, err := load(s.ctx, s.ds, d.id)
	if err != nil {
		return err
	}
	snapSeq := st.snaps.lastSeq() // the entries after it are stored (compaction)
	last := snapSeq + uint64(len(st.entries))
	if last != d.r.Log().Seq() || base > last || base < snapSeq {
		return fmt.Errorf("%d entries stored after the snapshot at %d, seq %d, base %d",
			len(st.entries), snapSeq, d.r.Log().Seq(), base)
	}
	nr, err := mk(st.snaps.snap, st.entries[:base-snapSeq], st.entries[base-snapSeq:])
	if err != nil {
		return err
	}
	// handleReady writes the new replica's entries and Pending again (the
	// same bytes); they go in this batch so that nothing is lost between.
	rd := nr.Ready()
	rewritten := map[uint64]bool{}
	for _, e := range rd.Entries {
		rewritten[e.Head.Seq] = true
	}
	b, err := s.ds.Batch(s.ctx)
	for seq := base + 1; seq <= last && err == nil; seq++ {
		if !rewritten[seq] {
			err = b.Delete(s.ctx, entryKey(d.id, seq))
		}
	}
	for _, e := range rd.Entries {
		var eb []byte
		if err == nil {
			eb, err = e.Marshal()
		}
		if err == nil {
			err = b.Put(s.ctx, entryKey(d.id, e.Head.Seq), eb)
		}
	}
	if err == nil && rd.Pending != nil {
		var pb []byte
		if pb, err = rd.Pending.Marshal(); err == nil {
			err = b.Put(s.ctx, pendingKey(d.id), pb)
		}
	}
	if err == nil {
		err = b.Commit(s.ctx)
	}
	if err == nil {
		err = s.ds.Sync(s.ctx, docKey(d.id))
	}
	if err != nil {
		d.broken = fmt.Errorf("%w: %w", ErrStorage, err)
		s.log.Error("document stopped: cannot persist the replaced replica", "doc", d.id, "err", err)
		s.stopObservers(d, d.broken)
		return d.broken
	}
	d.r = nr
	d.agreed.resetTo(nr)
	d.lastSeq = 0 // report the new head
	s.handleReady(d)
	return nil
}
