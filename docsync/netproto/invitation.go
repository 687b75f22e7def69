package netproto

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/clone2clone/c2c/docsync"
	ma "github.com/multiformats/go-multiaddr"
)

// Invitation tells a clone that it was added to a document: enough to join
// the topics, reach the sequencer and fetch the history, and the evidence
// that lets the invited clone check it before it keeps anything (Verify):
// the document's genesis entry and the add-member entry, both signed by the
// sequencer, the latter also by the admin who sent the invitation.
//
// A clone also stores its own invitation as a document's meta record; the
// creator's has no entries.
type Invitation struct {
	Doc       docsync.DocID
	Sequencer ed25519.PublicKey // also the sequencer's libp2p peer key
	Addrs     []ma.Multiaddr    // the sequencer's addresses (hint)
	Role      docsync.Role
	// Seq is the seq of the add-member entry (0 if unknown): fetch at least that far.
	Seq uint64
	// Genesis is the document's entry 1; Added the entry at Seq that adds
	// the invited clone. Both are nil in a creator's meta record.
	Genesis, Added *docsync.Entry
	// Credential is the inviting clone's owner certificate (dht.OwnerCert
	// bytes), for invite policies that accept a user's contacts. Opaque here.
	Credential []byte
	// Schedule is the document's key schedule (docsync.Schedule encoding)
	// when it moved before Seq: the add-member entry is signed by the key
	// it names for Seq. Empty: the document never moved.
	Schedule []byte
}

const (
	invitationV1 = 1 // no entries, no credential: read from old meta records only
	invitationV2 = 2
	invitationV3 = 3 // v2 and the key schedule after a move
	// MaxInviteScheduleBytes caps the key schedule an invitation carries:
	// a few moves, each one signed membership entry.
	MaxInviteScheduleBytes = 64 << 10
	// MaxInviteAddrs caps the address hints in an invitation.
	MaxInviteAddrs = 8
	maxAddrBytes   = 256
	// MaxInviteEntryBytes caps each entry an invitation carries: a
	// membership op holds one HPKE key and a few wrapped keys.
	MaxInviteEntryBytes = 24 << 10
	// MaxCredentialBytes caps the inviter's credential.
	MaxCredentialBytes = 2 << 10
	invitationHeader   = 1 + 32 + 32 + 1 + 8 + 1
	// MaxInvitationBytes caps an encoded invitation.
	MaxInvitationBytes = invitationHeader + MaxInviteAddrs*(2+maxAddrBytes) +
		2*(3+MaxInviteEntryBytes) + 2 + MaxCredentialBytes + 3 + MaxInviteScheduleBytes
)

// ErrBadInvitation: an invitation's evidence does not verify.
var ErrBadInvitation = errors.New("netproto: invitation does not verify")

// Marshal encodes the invitation: version 2, doc, sequencer key, role, seq,
// a count of addresses each prefixed by a big-endian uint16 length, then
// the genesis entry, the added entry and the credential, each prefixed by a
// uvarint length (0: absent).
func (inv *Invitation) Marshal() ([]byte, error) {
	if len(inv.Sequencer) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: sequencer key is %d bytes", ErrMalformed, len(inv.Sequencer))
	}
	if len(inv.Addrs) > MaxInviteAddrs {
		return nil, fmt.Errorf("%w: %d addresses", ErrMalformed, len(inv.Addrs))
	}
	if len(inv.Credential) > MaxCredentialBytes {
		return nil, fmt.Errorf("%w: credential of %d bytes", ErrMalformed, len(inv.Credential))
	}
	if len(inv.Schedule) > MaxInviteScheduleBytes {
		return nil, fmt.Errorf("%w: key schedule of %d bytes", ErrMalformed, len(inv.Schedule))
	}
	b := []byte{invitationV2}
	if len(inv.Schedule) > 0 {
		b[0] = invitationV3
	}
	b = append(b, inv.Doc[:]...)
	b = append(b, inv.Sequencer...)
	b = append(b, byte(inv.Role))
	b = binary.BigEndian.AppendUint64(b, inv.Seq)
	b = append(b, byte(len(inv.Addrs)))
	for _, a := range inv.Addrs {
		ab := a.Bytes()
		if len(ab) > maxAddrBytes {
			return nil, fmt.Errorf("%w: address of %d bytes", ErrMalformed, len(ab))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(ab)))
		b = append(b, ab...)
	}
	for _, e := range []*docsync.Entry{inv.Genesis, inv.Added} {
		var eb []byte
		if e != nil {
			var err error
			if eb, err = e.Marshal(); err != nil {
				return nil, err
			}
			if len(eb) > MaxInviteEntryBytes {
				return nil, fmt.Errorf("%w: entry of %d bytes", ErrMalformed, len(eb))
			}
		}
		b = binary.AppendUvarint(b, uint64(len(eb)))
		b = append(b, eb...)
	}
	b = binary.AppendUvarint(b, uint64(len(inv.Credential)))
	b = append(b, inv.Credential...)
	if len(inv.Schedule) > 0 {
		b = binary.AppendUvarint(b, uint64(len(inv.Schedule)))
		b = append(b, inv.Schedule...)
	}
	return b, nil
}

// DecodeInvitation decodes and checks an invitation's shape (Verify checks
// its evidence).
func DecodeInvitation(b []byte) (*Invitation, error) {
	bad := func(what string) error { return fmt.Errorf("%w: invitation %s", ErrMalformed, what) }
	if len(b) > MaxInvitationBytes {
		return nil, bad("too large")
	}
	if len(b) < invitationHeader || (b[0] != invitationV1 && b[0] != invitationV2 && b[0] != invitationV3) {
		return nil, bad("header")
	}
	inv := &Invitation{}
	p := b[1:]
	copy(inv.Doc[:], p[:32])
	inv.Sequencer = append(ed25519.PublicKey(nil), p[32:64]...)
	inv.Role = docsync.Role(p[64])
	if inv.Role < docsync.RoleReader || inv.Role > docsync.RoleAdmin {
		return nil, bad("role")
	}
	inv.Seq = binary.BigEndian.Uint64(p[65:73])
	n := int(p[73])
	p = p[74:]
	if n > MaxInviteAddrs {
		return nil, bad("address count")
	}
	for range n {
		if len(p) < 2 {
			return nil, bad("address length")
		}
		l := int(binary.BigEndian.Uint16(p))
		p = p[2:]
		if l > maxAddrBytes || l > len(p) {
			return nil, bad("address length")
		}
		a, err := ma.NewMultiaddrBytes(p[:l])
		if err != nil {
			return nil, fmt.Errorf("%w: invitation address: %v", ErrMalformed, err)
		}
		inv.Addrs = append(inv.Addrs, a)
		p = p[l:]
	}
	if b[0] >= invitationV2 {
		var err error
		field := func(max int) []byte {
			l, k := binary.Uvarint(p)
			if err != nil {
				return nil
			}
			if k <= 0 || l > uint64(max) || l > uint64(len(p)-k) {
				err = bad("field length")
				return nil
			}
			f := p[k : k+int(l)]
			p = p[k+int(l):]
			return f
		}
		entries := [][]byte{field(MaxInviteEntryBytes), field(MaxInviteEntryBytes)}
		cred := field(MaxCredentialBytes)
		var sched []byte
		if b[0] == invitationV3 {
			if sched = field(MaxInviteScheduleBytes); err == nil && len(sched) == 0 {
				err = bad("empty key schedule")
			}
		}
		if err != nil {
			return nil, err
		}
		for i, eb := range entries {
			if len(eb) == 0 {
				continue
			}
			e, derr := docsync.DecodeEntry(eb)
			if derr != nil {
				return nil, fmt.Errorf("%w: invitation entry: %w", ErrMalformed, derr)
			}
			if i == 0 {
				inv.Genesis = e
			} else {
				inv.Added = e
			}
		}
		if len(cred) > 0 {
			inv.Credential = append([]byte(nil), cred...)
		}
		if len(sched) > 0 {
			inv.Schedule = append([]byte(nil), sched...)
		}
	}
	if len(p) != 0 {
		return nil, bad("trailing bytes")
	}
	return inv, nil
}

// Verify checks the invitation's evidence for the invited clone me, sent by
// the clone from: the genesis entry is entry 1 of Doc, signed by Sequencer
// and naming it, with the right chain hash; the added entry is signed at
// Seq by Sequencer, or after a move by the key the checked Schedule names and is from's signed op adding me with Role. It costs
// four signature checks and no I/O.
//
// What it cannot check from two entries alone, whether from was still an
// admin at Seq when it is not the creator, the invited clone checks when it
// replays the log: an entry by a non-admin is refused there.
func (inv *Invitation) Verify(me, from docsync.MemberID) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadInvitation, fmt.Sprintf(format, a...))
	}
	g, a := inv.Genesis, inv.Added
	if g == nil || a == nil {
		return bad("no genesis or add-member entry")
	}
	log := docsync.NewLogState(inv.Doc, inv.Sequencer)
	if g.Head.Doc != inv.Doc || g.Head.Seq != 1 {
		return bad("genesis entry is not entry 1 of the document")
	}
	op, err := log.Check(&g.Envelope)
	if err != nil || op == nil || op.Type != docsync.OpGenesis {
		return bad("genesis entry: %v", err)
	}
	if log.Append(&g.Envelope, op) != g.Head.ChainHash {
		return bad("genesis chain hash")
	}
	if err := g.Head.Verify(inv.Sequencer); err != nil {
		return bad("genesis: %v", err)
	}
	if a.Head.Doc != inv.Doc || a.Envelope.Doc != inv.Doc || a.Head.Seq != inv.Seq || inv.Seq < 2 {
		return bad("add-member entry is not at seq %d of the document", inv.Seq)
	}
	if a.Envelope.Author != from {
		return bad("add-member entry not signed by the inviting clone")
	}
	if a.Envelope.Kind != docsync.KindMember {
		return bad("add-member entry holds an edit")
	}
	if err := a.Envelope.VerifyAuthor(); err != nil {
		return bad("add-member entry: %v", err)
	}
	key := inv.Sequencer
	if len(inv.Schedule) > 0 {
		// The inviter's schedule may end with a move after Seq: every
		// span is checked against its signed move anyway.
		sched, err := docsync.DecodeSchedule(inv.Doc, inv.Schedule, inv.Sequencer, math.MaxUint64-1)
		if err != nil {
			return bad("key schedule: %v", err)
		}
		key = sched.KeyAt(inv.Seq)
	}
	if err := a.Head.Verify(key); err != nil {
		return bad("add-member entry: %v", err)
	}
	add, err := docsync.DecodeMemberOp(a.Envelope.Body)
	if err != nil || add.Type != docsync.OpAdd || add.Member != me || add.Role != inv.Role {
		return bad("the add-member entry does not add this clone with role %v", inv.Role)
	}
	return nil
}
