package docsync

import (
	"crypto/ed25519"
	"fmt"

	"github.com/clone2clone/c2c/docsync/wire"
	"github.com/clone2clone/c2c/internal/intern"
	"google.golang.org/protobuf/proto"
)

// OpType is the type of a membership operation.
type OpType uint8

const (
	OpGenesis    OpType = 1 // creates the document; the author becomes its first admin
	OpAdd        OpType = 2 // adds a member with a role and an HPKE key
	OpRemove     OpType = 3 // removes a member and starts a new key epoch
	OpChangeRole OpType = 4 // changes a member's role
	OpMove       OpType = 5 // moves the document to a new sequencer (move.go)
)

const maxWrapBytes = 4096

// MemberOp is the plaintext body of a KindMember envelope, signed by an admin
// (for genesis: by the creator) through the envelope signature.
type MemberOp struct {
	Type      OpType
	Member    MemberID          // subject (the creator for genesis)
	HPKEPub   []byte            // genesis, add
	Role      Role              // genesis (admin), add, change role
	Sequencer ed25519.PublicKey // genesis; move: the new sequencer
	Bundle    *KeyBundle        // genesis, remove: a new epoch; add: the current key for Member
	// Move only: the new sequencer's address (a hint for clones, not
	// checked), and whether the new sequencer orders the move itself
	// (Takeover: failover from a sequencer that stopped) rather than the
	// current one (a planned handover).
	SequencerAddr string
	Takeover      bool
}

// KeyBundle carries one epoch's document key wrapped to members, and the
// previous epoch's key sealed under the new one so members can read history.
type KeyBundle struct {
	Epoch     uint64
	Keys      []WrappedKey
	PrevNonce []byte
	PrevKey   []byte
}

// WrappedKey is an epoch key sealed with HPKE to one member.
type WrappedKey struct {
	Member     MemberID
	Ciphertext []byte
}

// Marshal encodes the op.
func (o *MemberOp) Marshal() ([]byte, error) {
	w := &wire.MemberOp{Type: uint32(o.Type), Member: o.Member[:], HpkePub: o.HPKEPub,
		Role: uint32(o.Role), Sequencer: o.Sequencer, SequencerAddr: o.SequencerAddr, Takeover: o.Takeover}
	if b := o.Bundle; b != nil {
		w.Bundle = &wire.KeyBundle{Epoch: b.Epoch, PrevNonce: b.PrevNonce, PrevKey: b.PrevKey}
		for _, k := range b.Keys {
			w.Bundle.Keys = append(w.Bundle.Keys, &wire.WrappedKey{Member: k.Member[:], Ciphertext: k.Ciphertext})
		}
	}
	return proto.Marshal(w)
}

// DecodeMemberOp decodes a membership op and checks its shape (not whether it
// is allowed: that depends on the membership state at its seq).
func DecodeMemberOp(b []byte) (*MemberOp, error) {
	var w wire.MemberOp
	if err := unmarshal(b, MaxMemberOpBytes, &w, "member op"); err != nil {
		return nil, err
	}
	o := &MemberOp{Type: OpType(w.Type), Role: Role(w.Role)}
	if err := copy32((*[32]byte)(&o.Member), w.Member, "member"); err != nil {
		return nil, err
	}
	needPub, needRole, needBundle := false, false, false
	switch o.Type {
	case OpGenesis:
		needPub, needRole, needBundle = true, true, true
		if len(w.Sequencer) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: genesis sequencer key is %d bytes", ErrMalformed, len(w.Sequencer))
		}
		o.Sequencer = append(ed25519.PublicKey(nil), w.Sequencer...)
	case OpAdd:
		needPub, needRole, needBundle = true, true, true
	case OpRemove:
		needBundle = true
	case OpChangeRole:
		needRole = true
	case OpMove:
		if err := decodeMove(&w, o); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: member op type %d", ErrMalformed, w.Type)
	}
	if o.Type != OpGenesis && o.Type != OpMove && len(w.Sequencer) != 0 {
		return nil, fmt.Errorf("%w: sequencer key outside genesis and move", ErrMalformed)
	}
	if o.Type != OpMove && (w.SequencerAddr != "" || w.Takeover) {
		return nil, fmt.Errorf("%w: move fields in op type %d", ErrMalformed, w.Type)
	}
	if needPub {
		if err := ParseHPKEPublic(w.HpkePub); err != nil {
			return nil, err
		}
		o.HPKEPub = intern.Bytes(w.HpkePub) // every member of the document holds it: one copy per process
	} else if len(w.HpkePub) != 0 {
		return nil, fmt.Errorf("%w: unexpected hpke key", ErrMalformed)
	}
	if needRole != (w.Role != 0) || (needRole && !o.Role.valid()) {
		return nil, fmt.Errorf("%w: role %d for op type %d", ErrMalformed, w.Role, w.Type)
	}
	if needBundle != (w.Bundle != nil) {
		return nil, fmt.Errorf("%w: key bundle presence for op type %d", ErrMalformed, w.Type)
	}
	if w.Bundle != nil {
		kb, err := bundleFromWire(w.Bundle)
		if err != nil {
			return nil, err
		}
		o.Bundle = kb
	}
	return o, nil
}

func bundleFromWire(w *wire.KeyBundle) (*KeyBundle, error) {
	if w.Epoch == 0 {
		return nil, fmt.Errorf("%w: bundle epoch 0", ErrMalformed)
	}
	if len(w.Keys) == 0 || len(w.Keys) > MaxMembers {
		return nil, fmt.Errorf("%w: bundle holds %d keys", ErrMalformed, len(w.Keys))
	}
	if len(w.PrevKey) != 0 && (len(w.PrevNonce) != NonceSize || len(w.PrevKey) > 2*KeySize) {
		return nil, fmt.Errorf("%w: sealed previous key", ErrMalformed)
	}
	if len(w.PrevKey) == 0 && len(w.PrevNonce) != 0 {
		return nil, fmt.Errorf("%w: nonce without previous key", ErrMalformed)
	}
	kb := &KeyBundle{Epoch: w.Epoch, PrevNonce: append([]byte(nil), w.PrevNonce...),
		PrevKey: append([]byte(nil), w.PrevKey...)}
	seen := make(map[MemberID]bool, len(w.Keys))
	for _, k := range w.Keys {
		var wk WrappedKey
		if err := copy32((*[32]byte)(&wk.Member), k.Member, "wrapped key member"); err != nil {
			return nil, err
		}
		if len(k.Ciphertext) == 0 || len(k.Ciphertext) > maxWrapBytes {
			return nil, fmt.Errorf("%w: wrapped key is %d bytes", ErrMalformed, len(k.Ciphertext))
		}
		if seen[wk.Member] {
			return nil, fmt.Errorf("%w: key wrapped twice to %v", ErrMalformed, wk.Member)
		}
		seen[wk.Member] = true
		wk.Ciphertext = intern.Bytes(k.Ciphertext) // kept as the member's wrap by every member
		kb.Keys = append(kb.Keys, wk)
	}
	return kb, nil
}

// recipients returns the set of members a bundle wraps to.
func (kb *KeyBundle) recipients() map[MemberID]bool {
	s := make(map[MemberID]bool, len(kb.Keys))
	for _, k := range kb.Keys {
		s[k.Member] = true
	}
	return s
}

// keyFor returns the ciphertext wrapped to m.
func (kb *KeyBundle) keyFor(m MemberID) ([]byte, bool) {
	for _, k := range kb.Keys {
		if k.Member == m {
			return k.Ciphertext, true
		}
	}
	return nil, false
}
