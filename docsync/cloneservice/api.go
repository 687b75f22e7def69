package cloneservice

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Create makes a new document ordered by the sequencer seq (its peer ID is
// its signing key; Addrs are dialed). It returns once the genesis is
// committed: this clone is the document's admin.
func (s *Service) Create(ctx context.Context, seq peer.AddrInfo) (docsync.DocID, error) {
	var doc docsync.DocID
	pub, err := netproto.MemberOf(seq.ID)
	if err != nil {
		return doc, err
	}
	if _, err := rand.Read(doc[:]); err != nil {
		return doc, err
	}
	if len(seq.Addrs) > 0 {
		if err := s.h.Connect(ctx, seq); err != nil {
			return doc, fmt.Errorf("cloneservice: connect to sequencer: %w", err)
		}
	}
	meta := &netproto.Invitation{Doc: doc, Sequencer: pub[:], Addrs: seq.Addrs, Role: docsync.RoleAdmin}
	var cerr error
	if err := s.do(ctx, func() {
		var r *docsync.Replica
		if r, cerr = docsync.Create(s.config(doc, meta)); cerr != nil {
			return
		}
		var d *docState
		if d, cerr = s.track(meta, r); cerr == nil {
			cerr = s.handleReady(d)
		}
	}); err != nil {
		return doc, err
	}
	if cerr != nil {
		return doc, cerr
	}
	return doc, s.wait(ctx, doc, func(d *docState) (bool, error) {
		if d.r.Log().Seq() == 0 && errors.Is(d.registerErr, netproto.ErrRefused) {
			return false, fmt.Errorf("cloneservice: the sequencer refused the document: %w", d.registerErr)
		}
		return d.r.Log().Seq() >= 1, d.stopped()
	})
}

// track persists a document's meta record and opens it (loop only). The
// limits are checked first: nothing is written for a document that will
// not be opened.
func (s *Service) track(meta *netproto.Invitation, r *docsync.Replica) (*docState, error) {
	if len(s.docs)+len(s.failed) >= s.params.MaxDocs {
		return nil, ErrTooManyDocs
	}
	stored := *meta
	stored.Genesis, stored.Added, stored.Credential = nil, nil, nil // the log holds them
	mb, err := stored.Marshal()
	if err != nil {
		return nil, err
	}
	if err := s.ds.Put(s.ctx, metaKey(meta.Doc), mb); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := s.ds.Sync(s.ctx, metaKey(meta.Doc)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return s.openDoc(meta, r)
}

// join starts tracking a document this clone was invited to (the
// invitation verified and the policy accepted it: see handleInvite): it
// joins the topics, connects to the sequencer and fetches the history
// (keys arrive with the add-member entry). Joining a tracked document only
// catches up.
func (s *Service) join(ctx context.Context, inv *netproto.Invitation) error {
	seqPeer, err := netproto.PeerOf(inv.Sequencer)
	if err != nil {
		return err
	}
	if len(inv.Addrs) > 0 {
		// Best effort: members also serve history and the loop re-dials.
		_ = s.h.Connect(ctx, peer.AddrInfo{ID: seqPeer, Addrs: inv.Addrs})
	}
	var snap *docsync.SealedSnapshot
	var inviter peer.ID
	if inv.Added != nil {
		tracked := true
		_ = s.do(ctx, func() { tracked = s.docs[inv.Doc] != nil })
		if p, err := netproto.PeerOf(inv.Added.Envelope.Author[:]); err == nil {
			inviter = p
			if !tracked {
				snap = s.snapshotFrom(ctx, inviter, inv.Doc) // verified by docsync.Join in the loop
			}
		}
	}
	var jerr error
	err = s.do(ctx, func() {
		d := s.docs[inv.Doc]
		if d != nil && d.r.Log().Seq() == 0 && !bytes.Equal(d.meta.Sequencer, inv.Sequencer) {
			// Nothing verified yet: an earlier invitation may have named a
			// sequencer key nobody signs with (anyone can send one), which
			// would lock this clone out of the document for good. A later
			// invitation naming another sequencer replaces it; once an entry
			// has verified, the sequencer key is settled.
			d.close(s)
			delete(s.docs, inv.Doc)
			d = nil
		}
		if d == nil && s.unverified() >= s.params.MaxUnverifiedDocs {
			jerr = ErrTooManyUnverified
			return
		}
		if d == nil {
			var r *docsync.Replica
			var ss snapState
			if r, ss, jerr = s.joinReplica(inv, snap); jerr != nil {
				return
			}
			if d, jerr = s.track(inv, r); jerr != nil {
				return
			}
			d.snaps = ss
			if ss.snap != nil {
				s.handleReady(d)
				s.catchUp(d)
				return
			}
		}
		switch {
		case inv.Seq > d.r.Log().Seq() && inviter != "" && inviter != s.h.ID():
			// The history up to the invitation from the inviter, which
			// has it, not from the sequencer: during a burst of
			// invitations every invitee fetching the whole log from the
			// sequencer doubled what its link carried: O(members^2)
			// bytes per document on one link.
			s.fetchFrom(d, d.r.Log().Seq()+1, inv.Seq, inviter, false)
		case inv.Seq > d.r.Log().Seq():
			s.fetch(d, d.r.Log().Seq()+1, inv.Seq, false)
		default:
			s.catchUp(d)
		}
	})
	if err != nil {
		return err
	}
	return jerr
}

// Invite adds the clone of (user, device), found in the directory, to doc
// with role: the add-member op wraps the document key to the HPKE key in the
// clone's owner certificate. Once the op is committed the clone is sent an
// invitation. It returns the new member's ID.
func (s *Service) Invite(ctx context.Context, doc docsync.DocID, user peer.ID, device string, role docsync.Role) (docsync.MemberID, error) {
	var id docsync.MemberID
	if s.opts.dir == nil {
		return id, ErrNoDirectory
	}
	cert, err := s.opts.dir.LookupClone(ctx, user, device)
	if err != nil {
		return id, fmt.Errorf("cloneservice: look up %s/%s: %w", user, device, err)
	}
	if id, err = netproto.MemberOf(cert.Peer); err != nil {
		return id, err
	}
	var meta netproto.Invitation
	if err := s.member(ctx, doc, func(d *docState) error {
		meta = *d.meta
		if _, ok := d.r.Log().Membership().Get(id); ok {
			return nil // already a member: just (re-)send the invitation
		}
		return d.r.AddMember(id, cert.HPKE, role)
	}, func(d *docState) bool {
		_, ok := d.r.Log().Membership().Get(id)
		return ok
	}); err != nil {
		return id, err
	}
	var addSeq uint64
	var sched *docsync.Schedule
	_ = s.do(ctx, func() {
		if d := s.docs[doc]; d != nil {
			addSeq, sched = d.r.Log().Seq(), d.r.Log().KeySchedule()
		}
	})
	inv := &netproto.Invitation{Doc: doc, Sequencer: meta.Sequencer, Addrs: meta.Addrs, Role: role,
		Credential: s.opts.cred}
	if sched != nil { // the document moved: the add-member entry is another key's
		var err error
		if inv.Schedule, err = sched.Marshal(); err != nil {
			return id, err
		}
	}
	if err := s.attachEvidence(ctx, inv, id, addSeq); err != nil {
		return id, err
	}
	if len(inv.Addrs) == 0 {
		inv.Addrs = s.h.Peerstore().Addrs(peerOrEmpty(meta.Sequencer))
	}
	if len(inv.Addrs) > netproto.MaxInviteAddrs {
		inv.Addrs = inv.Addrs[:netproto.MaxInviteAddrs]
	}
	return id, s.sendInvitation(ctx, cert.Peer, cert.Addrs, inv)
}

// attachEvidence puts the genesis and the latest entry at or before upTo
// that adds member into inv, so the invitee can verify the invitation
// before it keeps anything. Entries are written once, before they are
// known, so reading them off the loop is safe.
func (s *Service) attachEvidence(ctx context.Context, inv *netproto.Invitation, member docsync.MemberID, upTo uint64) error {
	read := func(seq uint64) (*docsync.Entry, error) {
		b, err := s.ds.Get(ctx, entryKey(inv.Doc, seq))
		if err != nil {
			return nil, err
		}
		return docsync.DecodeEntry(b)
	}
	g, err := read(1)
	if err != nil {
		return fmt.Errorf("cloneservice: invitation genesis: %w", err)
	}
	inv.Genesis = g
	for seq := upTo; seq >= 2; seq-- {
		e, err := read(seq)
		if err != nil {
			return fmt.Errorf("cloneservice: invitation entry %d: %w", seq, err)
		}
		if e.Envelope.Kind != docsync.KindMember || e.Envelope.Author != s.me {
			continue
		}
		if op, err := docsync.DecodeMemberOp(e.Envelope.Body); err == nil && op.Type == docsync.OpAdd && op.Member == member {
			inv.Added, inv.Seq = e, seq
			return nil
		}
	}
	return fmt.Errorf("cloneservice: no add-member entry of ours for %v up to seq %d (only the admin who added a member invites it)", member, upTo)
}

// Forget stops tracking doc and deletes everything this clone kept of it
// (log, pending edits, fork proof, meta records). It also removes a
// document that could not be opened at start. Edits not yet committed are
// lost: that is what forgetting means.
func (s *Service) Forget(ctx context.Context, doc docsync.DocID) error {
	var known bool
	if err := s.do(ctx, func() {
		_, failed := s.failed[doc]
		d := s.docs[doc]
		known = failed || d != nil
		if d != nil {
			d.close(s)
			delete(s.docs, doc)
		}
		delete(s.failed, doc)
	}); err != nil {
		return err
	}
	if !known {
		return ErrUnknownDoc
	}
	if err := deleteDoc(ctx, s.ds, doc); err != nil {
		return fmt.Errorf("%w: forget %v: %w", ErrStorage, doc, err)
	}
	s.log.Info("forgot document", "doc", doc)
	return nil
}

// unverified counts the documents joined but not yet verified (loop only).
func (s *Service) unverified() int {
	n := 0
	for _, d := range s.docs {
		if d.r.Log().Seq() == 0 {
			n++
		}
	}
	return n
}

// isMember reports whether m is a member of a document we hold (loop only).
func (s *Service) isMember(m docsync.MemberID) bool {
	for _, d := range s.docs {
		if _, ok := d.r.Log().Membership().Get(m); ok {
			return true
		}
	}
	return false
}

func peerOf(pub []byte) (peer.ID, error) { return netproto.PeerOf(pub) }

func peerOrEmpty(pub []byte) peer.ID {
	p, _ := netproto.PeerOf(pub)
	return p
}

// sendInvitation finds the invited clone (directory peer routing, then
// the certificate's address hint) and sends it the invitation.
func (s *Service) sendInvitation(ctx context.Context, to peer.ID, hint []ma.Multiaddr, inv *netproto.Invitation) error {
	body, err := inv.Marshal()
	if err != nil {
		return err
	}
	if s.h.Network().Connectedness(to) != network.Connected {
		ai := peer.AddrInfo{ID: to, Addrs: hint}
		if r, err := s.opts.dir.Resolve(ctx, to); err == nil && len(r.Addrs) > 0 {
			ai = r
		}
		if err := s.h.Connect(ctx, ai); err != nil {
			return fmt.Errorf("cloneservice: reach invited clone %s: %w", to, err)
		}
	}
	if _, err := netproto.Request(ctx, s.h, to, netproto.InviteProtocol, body, 1024); err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return nil
}

// Remove removes a member from doc (a new key epoch it cannot read) and
// returns once the removal is committed.
func (s *Service) Remove(ctx context.Context, doc docsync.DocID, member docsync.MemberID) error {
	return s.member(ctx, doc, func(d *docState) error { return d.r.RemoveMember(member) },
		func(d *docState) bool { _, ok := d.r.Log().Membership().Get(member); return !ok })
}

// ChangeRole changes a member's role and returns once it is committed.
func (s *Service) ChangeRole(ctx context.Context, doc docsync.DocID, member docsync.MemberID, role docsync.Role) error {
	return s.member(ctx, doc, func(d *docState) error { return d.r.ChangeRole(member, role) },
		func(d *docState) bool { m, ok := d.r.Log().Membership().Get(member); return ok && m.Role == role })
}

// member queues a membership op and waits until done holds.
func (s *Service) member(ctx context.Context, doc docsync.DocID, queue func(d *docState) error, done func(d *docState) bool) error {
	if err := s.onDoc(ctx, doc, func(d *docState) error {
		if err := queue(d); err != nil {
			return err
		}
		return s.handleReady(d)
	}); err != nil {
		return err
	}
	return s.wait(ctx, doc, func(d *docState) (bool, error) { return done(d), d.stopped() })
}

// onDoc runs f on the loop with a live document.
func (s *Service) onDoc(ctx context.Context, doc docsync.DocID, f func(d *docState) error) error {
	var ferr error
	if err := s.do(ctx, func() {
		d := s.docs[doc]
		switch {
		case d == nil:
			ferr = ErrUnknownDoc
		case d.stopped() != nil:
			ferr = d.stopped()
		default:
			ferr = f(d)
		}
	}); err != nil {
		return err
	}
	return ferr
}

// Edit applies local edits (each relative to the text after the previous
// one) and returns once they are durable: an acknowledged edit survives a
// crash and is sent to the sequencer. If an op fails, the ops before it are
// kept (and acknowledged) and the error says which failed.
func (s *Service) Edit(ctx context.Context, doc docsync.DocID, ops ...ot.Op) error {
	return s.EditFunc(ctx, doc, func(int) ([]ot.Op, error) { return ops, nil })
}

// EditFunc is Edit with ops built on the loop from the current length of
// Text() in code points, so they cannot race a remote update (a device link
// or a test editing at a random position uses it).
func (s *Service) EditFunc(ctx context.Context, doc docsync.DocID, build func(length int) ([]ot.Op, error)) error {
	return s.EditFuncMeta(ctx, doc, func(n int) ([]ot.Op, map[string][]byte, error) {
		ops, err := build(n)
		return ops, nil, err
	})
}

// EditBase is EditFunc whose build gets the Base it edits against: the
// text (Base.Text), its length and its Version, read on the loop, so an
// edit built from the text cannot race a remote update.
func (s *Service) EditBase(ctx context.Context, doc docsync.DocID, build func(b Base) ([]ot.Op, error)) error {
	return s.editFuncMeta(ctx, doc, func(b Base) ([]ot.Op, map[string][]byte, error) {
		ops, err := build(b)
		return ops, nil, err
	}, nil)
}

// WaitCommitted returns once the edits and membership changes this clone
// made to doc before the call are committed (or abandoned: an edit the
// document refused is dropped, see EventDropped), or with the error that
// stopped the document, ErrUnknownDoc, ErrClosed or ctx's error.
func (s *Service) WaitCommitted(ctx context.Context, doc docsync.DocID) error {
	var target uint64
	if err := s.onDoc(ctx, doc, func(d *docState) error {
		target = d.r.OwnTarget()
		return nil
	}); err != nil {
		return err
	}
	return s.wait(ctx, doc, func(d *docState) (bool, error) {
		if err := d.stopped(); err != nil {
			return false, err
		}
		return d.r.Log().Counter(s.me) >= target || !d.r.Busy(), nil
	})
}

// composeBatch composes a batch of sequential ops into one
// (ot.ComposeChain), so the replica composes its buffer (which spans the
// whole document) once per call, not once per keystroke.
func composeBatch(ops []ot.Op, base int) (ot.Op, int, error) {
	acc, n, err := ot.ComposeChain(base, ops...)
	if err != nil {
		err = fmt.Errorf("%w: %w", docsync.ErrBadOp, err)
	}
	return acc, n, err
}
