package docsync

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/clone2clone/c2c/docsync/ot"
)

// Params are the replica's tuning numbers (protocol constants live in types.go).
type Params struct {
	// MaxPendingEntries bounds entries held while earlier ones are missing.
	MaxPendingEntries int
	// MaxKnownHeads bounds heads remembered for seqs we have not committed yet.
	MaxKnownHeads int
	// MaxFetch bounds the length of one fetch range.
	MaxFetch uint64
}

// DefaultParams returns the default Params.
func DefaultParams() Params {
	return Params{MaxPendingEntries: 4096, MaxKnownHeads: 1024, MaxFetch: 1024}
}

// Config configures a Replica.
type Config struct {
	Doc       DocID
	Sequencer ed25519.PublicKey
	Identity  *Identity
	// Rand supplies nonces and fresh epoch keys; nil means crypto/rand.
	Rand   io.Reader
	Params Params
	// Sigs remembers the signatures this process verified, so that the
	// clones of one process that fetch or gossip the same entries and
	// heads verify each once between them (nil: each every time).
	Sigs *SigCache
}

// inflight is this clone's one envelope awaiting its commit.
type inflight struct {
	env    *Envelope
	op     *ot.Op    // edit: the op transformed to apply on the committed text
	intent *MemberOp // membership op without key material, to rebuild it
}

// Replica is one clone's state machine for one document.
type Replica struct {
	cfg Config
	me  MemberID
	log *LogState

	sigs      [][]byte // sequencer signature per committed seq (index = seq - log.Base())
	ops       []*ot.Op // committed op of seq opsBase+i relative to the seq before; nil = no-op
	opsBase   uint64
	opAuthors []MemberID // author of ops[i] (presence carets move past their owner's inserts)
	committed *ot.Doc    // text at the last content-applied seq
	local     *ot.Doc    // committed + in-flight + buffer: the device's text
	keys      map[uint64]EpochKey
	locked    []*Entry // committed entries whose content waits for a key

	// digests[i] is the envelope digest of seq digestsBase+i: the window a
	// snapshot carries (join.go), bounded like ops.
	digests     []Hash
	digestsBase uint64
	// sealed is the snapshot this replica joined from while its body waits
	// for an epoch key (join.go); content of later entries waits with it.
	sealed *SealedSnapshot

	pending     map[uint64]*Entry // verified entries beyond a gap
	knownHeads  map[uint64]Head   // verified heads beyond our seq
	fetchedUpTo uint64

	counter  uint64
	inflight *inflight
	buffer   *ot.Op
	intents  []*MemberOp

	proof    *ForkProof
	conflict *Entry // the last takeover refused with ErrMoveConflict (rollback.go)
	crossed  *Entry // the last takeover from a branch we left (recover.go, FollowAcross)
	holdSend bool   // FollowAcross commits the old sequencer's entries: nothing goes to it
	ready    Ready
}

// New returns a replica of an existing document. It holds no keys until an
// entry wraps one to it (genesis or add), and replays entries from seq 1.
func New(cfg Config) (*Replica, error) {
	if cfg.Identity == nil || len(cfg.Sequencer) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("docsync: config needs an identity and a sequencer key")
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Params == (Params{}) {
		cfg.Params = DefaultParams()
	}
	return &Replica{
		cfg:         cfg,
		me:          cfg.Identity.ID(),
		log:         NewLogState(cfg.Doc, cfg.Sequencer),
		sigs:        [][]byte{nil},
		ops:         []*ot.Op{nil},
		opAuthors:   []MemberID{{}},
		digestsBase: 1,
		committed:   ot.NewDoc(""),
		local:       ot.NewDoc(""),
		keys:        map[uint64]EpochKey{},
		pending:     map[uint64]*Entry{},
		knownHeads:  map[uint64]Head{},
	}, nil
}

// Create returns the replica of a new document whose genesis envelope (the
// creator as admin, a fresh epoch-1 key) is the first thing in Ready.Submit.
func Create(cfg Config) (*Replica, error) {
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	r.intents = append(r.intents, &MemberOp{Type: OpGenesis, Member: r.me,
		HPKEPub: cfg.Identity.HPKEPublic(), Role: RoleAdmin, Sequencer: cfg.Sequencer})
	r.maybeSend()
	return r, nil
}

// ID returns this clone's MemberID.
func (r *Replica) ID() MemberID { return r.me }

// Log returns the verified log state (read-only).
func (r *Replica) Log() *LogState { return r.log }

// Text returns the local text (committed plus this clone's pending edits).
func (r *Replica) Text() string { return r.local.String() }

// InFlight returns this clone's envelope awaiting its commit, nil if none
// (what Pending.InFlight persists).
func (r *Replica) InFlight() *Envelope {
	if r.inflight == nil {
		return nil
	}
	return r.inflight.env
}

// OwnTarget returns the author counter this clone's work so far reaches
// once all of it is sent: that of the envelope in flight (or the last one
// sent), plus one for the buffered edits and one per queued membership
// change. That work is committed when Log().Counter(ID()) reaches it;
// Busy says whether any is still pending at all (a dropped edit never
// reaches its counter).
func (r *Replica) OwnTarget() uint64 {
	n := r.counter + uint64(len(r.intents))
	if r.buffer != nil {
		n++
	}
	return n
}

// Busy reports whether this clone has an envelope in flight, buffered
// edits or queued membership changes.
func (r *Replica) Busy() bool {
	return r.inflight != nil || r.buffer != nil || len(r.intents) > 0
}

// LocalLen returns the length of Text() in code points.
func (r *Replica) LocalLen() int { return r.local.Len() }

// CommittedText returns the text at the last applied seq.
func (r *Replica) CommittedText() string { return r.committed.String() }

// Applied returns the last seq whose content is applied (< Log().Seq() while locked).
func (r *Replica) Applied() uint64 { return r.opsBase + uint64(len(r.ops)) - 1 }

// Halted returns the fork proof that stopped this replica, if any.
func (r *Replica) Halted() *ForkProof { return r.proof }

// HasEpochKey reports whether this clone holds the key of epoch e.
func (r *Replica) HasEpochKey(e uint64) bool { _, ok := r.keys[e]; return ok }

// HeadAt returns the committed, sequencer-signed head at seq.
func (r *Replica) HeadAt(seq uint64) (Head, bool) {
	h, ok := r.log.HashAt(seq)
	if !ok || seq == 0 || r.sigs[seq-r.log.Base()] == nil {
		return Head{}, false
	}
	return Head{Doc: r.cfg.Doc, Seq: seq, ChainHash: h, Sig: r.sigs[seq-r.log.Base()]}, true
}

// Missing returns the range of seqs this replica knows exist (from entries
// or heads it holds) but has not committed; a range that stays missing means
// the sequencer and peers withhold it.
func (r *Replica) Missing() (from, to uint64, ok bool) {
	seq := r.log.Seq()
	for s := range r.pending {
		to = max(to, s)
	}
	for s := range r.knownHeads {
		to = max(to, s)
	}
	if to <= seq {
		return 0, 0, false
	}
	return seq + 1, to, true
}

// Refetch re-requests the Missing range (for the service to call on a timer
// when a fetch went unanswered).
func (r *Replica) Refetch() {
	if _, to, ok := r.Missing(); ok {
		r.fetchedUpTo = r.log.Seq()
		r.requestUpTo(to)
	}
}

// canEdit reports whether local edits are accepted now.
func (r *Replica) canEdit() error {
	if r.proof != nil {
		return ErrHalted
	}
	m, ok := r.log.Membership().Get(r.me)
	if !ok || m.Role < RoleWriter || len(r.locked) > 0 || r.sealed != nil || !r.HasEpochKey(r.log.Membership().Epoch()) {
		return ErrNotReady
	}
	return nil
}

// Propose applies a local edit (relative to Text()) and queues it for the
// sequencer: sent at once if nothing is in flight, else composed into the buffer.
func (r *Replica) Propose(op ot.Op) error {
	if err := r.canEdit(); err != nil {
		return err
	}
	if err := r.local.Apply(op); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOp, err)
	}
	if r.buffer == nil {
		b := op
		r.buffer = &b
	} else {
		c, err := ot.Compose(*r.buffer, op)
		if err != nil {
			return fmt.Errorf("docsync: compose buffer: %w", err) // broken invariant, not input
		}
		r.buffer = &c
	}
	r.markPending()
	r.maybeSend()
	return nil
}

// AddMember asks to add a member; ChangeRole and RemoveMember likewise. The
// op is built and sealed when nothing else of ours is in flight.
func (r *Replica) AddMember(id MemberID, hpkePub []byte, role Role) error {
	if err := ParseHPKEPublic(hpkePub); err != nil {
		return err
	}
	return r.queueIntent(&MemberOp{Type: OpAdd, Member: id, HPKEPub: hpkePub, Role: role})
}

// RemoveMember asks to remove a member, starting a new key epoch.
func (r *Replica) RemoveMember(id MemberID) error {
	return r.queueIntent(&MemberOp{Type: OpRemove, Member: id})
}

// ChangeRole asks to change a member's role.
func (r *Replica) ChangeRole(id MemberID, role Role) error {
	return r.queueIntent(&MemberOp{Type: OpChangeRole, Member: id, Role: role})
}

func (r *Replica) queueIntent(op *MemberOp) error {
	if r.proof != nil {
		return ErrHalted
	}
	creating := r.inflight != nil && r.inflight.intent != nil && r.inflight.intent.Type == OpGenesis
	if m, ok := r.log.Membership().Get(r.me); !creating && (!ok || m.Role != RoleAdmin) {
		return fmt.Errorf("%w: only admins change membership", ErrNotReady)
	}
	if op.Type != OpRemove && op.Type != OpMove && !op.Role.valid() {
		return fmt.Errorf("%w: role %d", ErrBadMemberOp, op.Role)
	}
	r.intents = append(r.intents, op)
	r.maybeSend()
	return nil
}

// Resubmit re-emits the in-flight envelope unchanged (for the service to call
// when the sequencer did not commit it in time; counters make it idempotent).
func (r *Replica) Resubmit() {
	if r.inflight != nil && r.proof == nil {
		r.ready.Submit = append(r.ready.Submit, r.inflight.env)
	}
}

// HasReady reports whether Ready has anything.
func (r *Replica) HasReady() bool {
	rd := &r.ready
	return len(rd.Entries)+len(rd.Submit)+len(rd.Updates)+len(rd.Fetch)+len(rd.Events) > 0 ||
		rd.Pending != nil || rd.Head != nil
}

// Ready returns the accumulated output. Call Advance once it is handled.
func (r *Replica) Ready() Ready { return r.ready }

// Advance discards the output returned by the last Ready.
func (r *Replica) Advance() { r.ready = Ready{} }

func (r *Replica) event(ev Event) { r.ready.Events = append(r.ready.Events, ev) }

func (r *Replica) markPending() {
	p := &Pending{Buffer: r.buffer, Counter: r.counter}
	if r.inflight != nil {
		p.InFlight = r.inflight.env
	}
	r.ready.Pending = p
}

// HandleHead takes a head gossiped by another clone (or published by the
// sequencer). A conflicting head for a seq we know yields a fork proof; a head
// beyond our seq triggers a fetch.
func (r *Replica) HandleHead(h Head) error {
	if r.proof != nil {
		return ErrHalted // like HandleEntry: a stopped replica learns nothing more
	}
	if h.Doc != r.cfg.Doc {
		return fmt.Errorf("%w: head for %v", ErrWrongDoc, h.Doc)
	}
	if h.Seq == 0 {
		return fmt.Errorf("%w: head at seq 0", ErrMalformed)
	}
	if mine, ok := r.HeadAt(h.Seq); ok && mine.ChainHash == h.ChainHash {
		return nil // agrees with what we verified: skip the signature check
	}
	if _, ok := r.log.HashAt(h.Seq); !ok && h.Seq <= r.log.Seq() {
		return nil // before the snapshot this replica joined from
	}
	key := r.log.KeyAt(h.Seq)
	if k := r.takeoverKey(); k != nil && h.Seq > r.log.Seq() {
		key = k
	}
	if err := h.VerifyIn(r.cfg.Sigs, key); err != nil {
		return r.unverifiedHead(h, err)
	}
	if mine, ok := r.HeadAt(h.Seq); ok {
		if r.leftBranch(h.Seq) {
			return nil
		}
		return r.compareHeads(mine, h)
	}
	if old, ok := r.knownHeads[h.Seq]; ok {
		return r.compareHeads(old, h)
	}
	if p, ok := r.pending[h.Seq]; ok {
		if err := r.compareHeads(p.Head, h); err != nil {
			return err
		}
	}
	if len(r.knownHeads) < r.cfg.Params.MaxKnownHeads {
		r.knownHeads[h.Seq] = h
	}
	r.requestUpTo(h.Seq)
	return nil
}

// compareHeads raises a fork if two verified heads for one seq differ.
func (r *Replica) compareHeads(a, b Head) error {
	if a.ChainHash == b.ChainHash {
		return nil
	}
	p := &ForkProof{A: a, B: b}
	if r.proof == nil {
		r.proof = p
		r.ready.Submit = nil
		r.event(Event{Kind: EventFork, Seq: a.Seq, Err: ErrFork, Proof: p})
	}
	return fmt.Errorf("%w: seq %d", ErrFork, a.Seq)
}

// requestUpTo asks for the entries after our seq up to seq (bounded).
func (r *Replica) requestUpTo(seq uint64) {
	from := max(r.log.Seq(), r.fetchedUpTo) + 1
	if seq < from {
		return
	}
	to := min(seq, from+r.cfg.Params.MaxFetch-1)
	r.fetchedUpTo = to
	r.ready.Fetch = append(r.ready.Fetch, FetchRange{From: from, To: to})
	r.event(Event{Kind: EventGap, Seq: from, Err: fmt.Errorf("%w: missing %d..%d", ErrGap, from, to)})
}

var errDuplicate = errors.New("duplicate")
