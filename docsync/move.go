package docsync

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/wire"
	"google.golang.org/protobuf/encoding/protowire"
)

// Moving a document to another sequencer (failover, docs/architecture.md
// "Failover"). An admin signs an OpMove naming the new sequencer's key;
// the move is an ordinary membership envelope and so continues the hash
// chain. It comes in two forms:
//
//   - handover (a planned move): the current sequencer orders the move at
//     seq M like any op; the new sequencer signs from M+1 on, continuing
//     from h(M). An honest current sequencer orders nothing after it
//     (ErrMoved), and whatever a dishonest one signs after M is ignored.
//   - takeover (the answer to a stalled sequencer): the new sequencer
//     orders the move itself at S+1, where S, the envelope's parent, is the
//     last head the admin's clone holds, and the move's parent hash is
//     h(S): the move commits to that head. The new key signs from S+1 on.
//
// Either way every clone verifies the move like any membership op (an
// admin of the current membership signed it, its parent hash is on the
// clone's own chain), switches the log's sequencer key, and resubmits its
// envelope in flight to the new sequencer: an envelope the old sequencer
// committed at or before the agreed head is not in flight any more; one it
// ordered after it is, and its (author, counter) is still unused on the
// new chain, so it commits exactly once.

var (
	// ErrMoved: the document moved to another sequencer; this one no
	// longer orders it.
	ErrMoved = errors.New("docsync: document moved to another sequencer")
	// ErrMoveConflict: a takeover continues from a head older than one
	// this clone already committed from the previous sequencer; the
	// service follows it with Rollback (rollback.go).
	ErrMoveConflict = errors.New("docsync: move continues from an older head than ours")
)

// maxAddrBytes caps a move's sequencer address.
const maxAddrBytes = 512

// keySpan says that key signs the heads of seqs from `from` on (until the
// next span).
type keySpan struct {
	from     uint64
	key      ed25519.PublicKey
	addr     string
	takeover bool // the new key signed the move itself, at from
	// move is the signed entry of the move that started the span, and
	// movePrev the chain hash before it (schedule.go): nil for the
	// genesis span and in a schedule restored from a checkpoint.
	move     *Entry
	movePrev Hash
}

// Move is one change of sequencer in a document's log.
type Move struct {
	Seq       uint64            // the move's entry
	From      uint64            // first seq the new key signs
	Sequencer ed25519.PublicKey // the new key
	Addr      string            // the new sequencer's address hint
}

func decodeMove(w *wire.MemberOp, o *MemberOp) error {
	if len(w.Sequencer) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: move sequencer key is %d bytes", ErrMalformed, len(w.Sequencer))
	}
	if len(w.SequencerAddr) > maxAddrBytes || !utf8.ValidString(w.SequencerAddr) {
		return fmt.Errorf("%w: move address", ErrMalformed)
	}
	o.Sequencer = append(ed25519.PublicKey(nil), w.Sequencer...)
	o.SequencerAddr, o.Takeover = w.SequencerAddr, w.Takeover
	return nil
}

// checkMove checks a move by author against the current sequencer seqPub
// (the envelope check already required an admin).
func checkMove(author MemberID, seqPub ed25519.PublicKey, op *MemberOp) error {
	if op.Member != author {
		return fmt.Errorf("%w: a move names its author", ErrBadMemberOp)
	}
	if bytes.Equal(op.Sequencer, seqPub) {
		return fmt.Errorf("%w: move to the current sequencer", ErrBadMemberOp)
	}
	return nil
}

// moveTo switches the sequencer after the move op in env just appended
// after the chain hash prev (the head's signature comes with NoteHead).
func (l *LogState) moveTo(env *Envelope, op *MemberOp, prev Hash) {
	from := l.Seq() + 1
	if op.Takeover {
		from = l.Seq()
	}
	key := append(ed25519.PublicKey(nil), op.Sequencer...)
	mv := &Entry{Head: Head{Doc: l.doc, Seq: l.Seq(), ChainHash: l.HeadHash()}, Envelope: *env}
	l.spans = append(l.spans, keySpan{from: from, key: key, addr: op.SequencerAddr, takeover: op.Takeover,
		move: mv, movePrev: prev})
	l.sequencer = key
}

// KeyAt returns the sequencer key that signs the head at seq (the current
// one for seqs not committed yet).
func (l *LogState) KeyAt(seq uint64) ed25519.PublicKey {
	for i := len(l.spans) - 1; i > 0; i-- {
		if seq >= l.spans[i].from {
			return l.spans[i].key
		}
	}
	return l.spans[0].key
}

// SequencerAddr returns the current sequencer's address hint ("" for the
// genesis sequencer, whose address the clone was configured with).
func (l *LogState) SequencerAddr() string { return l.spans[len(l.spans)-1].addr }

// Moves lists the committed moves, oldest first.
func (l *LogState) Moves() []Move {
	out := make([]Move, 0, len(l.spans)-1)
	for _, s := range l.spans[1:] {
		seq := s.from - 1
		if s.takeover {
			seq = s.from
		}
		out = append(out, Move{Seq: seq, From: s.from, Sequencer: s.key, Addr: s.addr})
	}
	return out
}

// MoveOf returns the move op an envelope carries, if it is a well-formed
// one (its author and rights are not checked): what a router needs to send
// a takeover to the sequencer it names.
func MoveOf(env *Envelope) (*MemberOp, bool) {
	if env.Kind != KindMember || memberOpType(env.Body) != OpMove {
		return nil, false
	}
	op, err := DecodeMemberOp(env.Body)
	if err != nil || op.Type != OpMove {
		return nil, false
	}
	return op, true
}

// memberOpType reads the type field of an encoded member op without
// decoding the rest (0 if b is no well-formed message): headKey asks
// MoveOf of every next entry and of every pending member entry, and a
// full decode of an add parses its ML-KEM key each time. As proto does,
// the last type field counts.
func memberOpType(b []byte) OpType {
	var t OpType
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0
		}
		b = b[n:]
		if num == memberOpTypeField && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0
			}
			t, b = OpType(uint32(v)), b[n:]
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return 0
		}
		b = b[n:]
	}
	return t
}

// memberOpTypeField is wire.MemberOp's type field.
const memberOpTypeField = 1

// Move asks to move the document to the sequencer seqKey (at addr) as a
// planned handover: the current sequencer orders the move, once nothing
// else of ours is in flight. Only an admin may.
func (r *Replica) Move(seqKey ed25519.PublicKey, addr string) error {
	op, err := r.moveOp(seqKey, addr, false)
	if err != nil {
		return err
	}
	return r.queueIntent(op)
}

// Takeover moves the document to the sequencer seqKey (at addr) now, from
// our head, for the new sequencer to order (the answer to a stalled
// sequencer). Our envelope in flight, which the old sequencer never
// committed, is folded back into the buffer and sealed again after the
// move; until the move commits, what the old sequencer orders after our
// head is ignored. It needs every entry we know of: a member with more
// from the old sequencer must roll back to follow (ErrMoveConflict).
func (r *Replica) Takeover(seqKey ed25519.PublicKey, addr string) error {
	op, err := r.moveOp(seqKey, addr, true)
	if err != nil {
		return err
	}
	if from, to, missing := r.Missing(); missing {
		return fmt.Errorf("%w: entries %d..%d are still missing", ErrNotReady, from, to)
	}
	if len(r.locked) > 0 {
		return fmt.Errorf("%w: content still locked", ErrNotReady)
	}
	if f := r.inflight; f != nil {
		r.inflight = nil
		if f.intent != nil {
			r.intents = append([]*MemberOp{f.intent}, r.intents...)
		} else if r.buffer != nil {
			c, err := ot.Compose(*f.op, *r.buffer)
			if err != nil {
				panic(fmt.Sprintf("docsync: compose in-flight and buffer: %v", err)) // both on our text
			}
			r.buffer = &c
		} else {
			r.buffer = f.op
		}
	}
	env, err := r.sealMember(op)
	if err != nil {
		r.markPending()
		r.maybeSend()
		return err
	}
	r.inflight = &inflight{env: env, intent: op}
	r.send()
	return nil
}

func (r *Replica) moveOp(seqKey ed25519.PublicKey, addr string, takeover bool) (*MemberOp, error) {
	if r.proof != nil {
		return nil, ErrHalted
	}
	if len(seqKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: sequencer key is %d bytes", ErrMalformed, len(seqKey))
	}
	if len(addr) > maxAddrBytes || !utf8.ValidString(addr) {
		return nil, fmt.Errorf("%w: sequencer address", ErrMalformed)
	}
	if bytes.Equal(seqKey, r.log.Sequencer()) {
		return nil, fmt.Errorf("%w: the document is on that sequencer already", ErrBadMemberOp)
	}
	if m, ok := r.log.Membership().Get(r.me); !ok || m.Role != RoleAdmin {
		return nil, fmt.Errorf("%w: only admins move a document", ErrNoWriteRight)
	}
	return &MemberOp{Type: OpMove, Member: r.me, Sequencer: append(ed25519.PublicKey(nil), seqKey...),
		SequencerAddr: addr, Takeover: takeover}, nil
}

// headKey returns the key that must have signed e's head: the one of its
// seq on our chain; for the next seq, the new sequencer's if e is a
// takeover; beyond it, the one a handover waiting in pending names.
func (r *Replica) headKey(e *Entry) ed25519.PublicKey {
	s := e.Head.Seq
	switch {
	case s <= r.log.Seq():
		return r.log.KeyAt(s)
	case s == r.log.Seq()+1:
		if op, ok := MoveOf(&e.Envelope); ok && op.Takeover {
			return op.Sequencer
		}
		return r.log.Sequencer()
	}
	key, at := r.log.Sequencer(), r.log.Seq()
	for m, p := range r.pending {
		if m < s && m > at {
			if op, ok := MoveOf(&p.Envelope); ok && !op.Takeover {
				key, at = op.Sequencer, m
			}
		}
	}
	return key
}

// verifyHead checks e's sequencer signature by headKey. An entry signed
// by a sequencer the document left (it kept ordering after the move) is
// errStale: ignored without an event. One beyond our seq that no key we
// know signed may follow a takeover we have not seen: we ask for the next
// seq, where such a move would be.
func (r *Replica) verifyHead(e *Entry) error {
	if k := r.takeoverKey(); k != nil && e.Head.Seq > r.log.Seq() {
		// Our takeover continues from our head: the old sequencer's
		// entries after it are abandoned, like after the move.
		if e.Head.VerifyIn(r.cfg.Sigs, k) != nil {
			return errStale
		}
		return nil
	}
	err := e.Head.VerifyIn(r.cfg.Sigs, r.headKey(e))
	if err == nil {
		return nil
	}
	for _, sp := range r.log.spans[:len(r.log.spans)-1] {
		if e.Head.VerifyIn(r.cfg.Sigs, sp.key) == nil {
			return errStale
		}
	}
	if s := e.Head.Seq; s > r.log.Seq()+1 {
		r.askNext()
	} else if r.conflicting(e, r.log.Seq()) {
		c := *e
		r.conflict = &c
		return fmt.Errorf("%w: the takeover at seq %d continues from seq %d, and this clone committed up to seq %d from the previous sequencer",
			ErrMoveConflict, s, e.Envelope.Parent, r.log.Seq())
	}
	return err
}

// conflicting reports whether e is a takeover, at a seq up to last (one
// we committed from the previous sequencer; after a fork also the next),
// that a current admin signed and that continues our chain from the seq
// before it: what Rollback follows. Everything is checked that can be
// without the state at its base, so that a stranger's entry never makes
// the service replay the log.
func (r *Replica) conflicting(e *Entry, last uint64) bool {
	s, env := e.Head.Seq, &e.Envelope
	op, ok := MoveOf(env)
	if !ok || !op.Takeover || s == 0 || s > last || env.Parent != s-1 || e.Head.Verify(op.Sequencer) != nil {
		return false
	}
	prev, _ := r.log.HashAt(s - 1)
	if env.ParentHash != prev || ChainHash(prev, env.Digest()) != e.Head.ChainHash || env.VerifyAuthor() != nil {
		return false
	}
	m, ok := r.log.Membership().Get(env.Author)
	return ok && m.Role == RoleAdmin && op.Member == env.Author
}

// takeoverKey returns the new sequencer's key while our takeover from our
// head is in flight (nil otherwise).
func (r *Replica) takeoverKey() ed25519.PublicKey {
	f := r.inflight
	if f == nil || f.intent == nil || f.intent.Type != OpMove || !f.intent.Takeover || f.env.Parent != r.log.Seq() {
		return nil
	}
	return f.intent.Sequencer
}

// askNext requests the entry after our head without moving fetchedUpTo:
// an unverifiable message cannot stop a later gap from being fetched.
func (r *Replica) askNext() {
	next := r.log.Seq() + 1
	r.ready.Fetch = append(r.ready.Fetch, FetchRange{From: next, To: next})
}

// moved handles a committed move: our envelope in flight was sent to the
// old sequencer, so it goes again, to the new one.
func (r *Replica) moved(seq uint64, op *MemberOp) {
	r.event(Event{Kind: EventMoved, Seq: seq, Op: op})
	sub := r.ready.Submit
	if r.inflight != nil && (len(sub) == 0 || sub[len(sub)-1] != r.inflight.env) {
		r.Resubmit()
	}
}

var errStale = errors.New("signed by a previous sequencer")

// unverifiedHead handles a head that the key of its seq did not sign: one
// by a sequencer the document left is ignored; one beyond our seq may
// come from a sequencer that took over, so we ask for the next entry.
func (r *Replica) unverifiedHead(h Head, err error) error {
	if r.takeoverKey() != nil && h.Seq > r.log.Seq() {
		return nil // the old sequencer's, after our takeover's base
	}
	for _, sp := range r.log.spans[:len(r.log.spans)-1] {
		if h.Verify(sp.key) == nil {
			return nil
		}
	}
	// Beyond our seq it may follow a takeover we have not seen; at or
	// below it, it may too: a takeover from an older head than ours, whose
	// entry we missed (a partition dropped it). A member that took over
	// answers a fetch of one entry after it with the takeover entry first
	// (TakeoverFor), so asking for our next entry finds it either way.
	r.askNext()
	return err
}
