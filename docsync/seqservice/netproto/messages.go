package netproto

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	ma "github.com/multiformats/go-multiaddr"
)

// HistoryRequest asks for the entries From..To (inclusive) of Doc.
type HistoryRequest struct {
	Doc      docsync.DocID
	From, To uint64
}

const historyRequestSize = 32 + 8 + 8

// Marshal encodes the request: doc || from || to (big-endian).
func (r HistoryRequest) Marshal() []byte {
	b := make([]byte, 0, historyRequestSize)
	b = append(b, r.Doc[:]...)
	b = binary.BigEndian.AppendUint64(b, r.From)
	return binary.BigEndian.AppendUint64(b, r.To)
}

// DecodeHistoryRequest decodes and checks a request (1 <= From <= To).
func DecodeHistoryRequest(b []byte) (HistoryRequest, error) {
	var r HistoryRequest
	if len(b) != historyRequestSize {
		return r, fmt.Errorf("%w: history request is %d bytes", ErrMalformed, len(b))
	}
	copy(r.Doc[:], b[:32])
	r.From = binary.BigEndian.Uint64(b[32:40])
	r.To = binary.BigEndian.Uint64(b[40:48])
	if r.From == 0 || r.To < r.From {
		return r, fmt.Errorf("%w: history range %d..%d", ErrMalformed, r.From, r.To)
	}
	return r, nil
}

// Invitation tells a clone that it was added to a document: enough to join
// the topics, reach the sequencer and fetch the history. It is not signed:
// everything that matters (membership, keys) is verified from the log, and
// the stream it arrives on authenticates the inviting peer.
type Invitation struct {
	Doc       docsync.DocID
	Sequencer ed25519.PublicKey // also the sequencer's libp2p peer key
	Addrs     []ma.Multiaddr    // the sequencer's addresses (hint)
	Role      docsync.Role
	// Seq is the seq of the add-member entry (0 if unknown): fetch at least that far.
	Seq uint64
}

const (
	invitationVersion = 1
	// MaxInviteAddrs caps the address hints in an invitation.
	MaxInviteAddrs = 8
	maxAddrBytes   = 256
	// MaxInvitationBytes caps an encoded invitation.
	MaxInvitationBytes = 1 + 32 + 32 + 1 + 8 + 1 + MaxInviteAddrs*(2+maxAddrBytes)
)

// Marshal encodes the invitation: version, doc, sequencer key, role, seq,
// then a count of addresses each prefixed by a big-endian uint16 length.
func (inv *Invitation) Marshal() ([]byte, error) {
	if len(inv.Sequencer) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: sequencer key is %d bytes", ErrMalformed, len(inv.Sequencer))
	}
	if len(inv.Addrs) > MaxInviteAddrs {
		return nil, fmt.Errorf("%w: %d addresses", ErrMalformed, len(inv.Addrs))
	}
	b := []byte{invitationVersion}
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
	return b, nil
}

// DecodeInvitation decodes and checks an invitation.
func DecodeInvitation(b []byte) (*Invitation, error) {
	bad := func(what string) error { return fmt.Errorf("%w: invitation %s", ErrMalformed, what) }
	if len(b) > MaxInvitationBytes {
		return nil, bad("too large")
	}
	if len(b) < 1+32+32+1+8+1 || b[0] != invitationVersion {
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
	if len(p) != 0 {
		return nil, bad("trailing bytes")
	}
	return inv, nil
}
