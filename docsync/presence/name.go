package presence

import (
	"github.com/clone2clone/c2c/docsync"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// DisplayName is what a caret is labelled with: the display name the
// member gives, else its device name, else a short form of its clone's
// peer ID.
func DisplayName(e Entry) string {
	if e.Name != "" {
		return e.Name
	}
	if e.Device != "" {
		return e.Device
	}
	return ShortID(e.Member)
}

// ShortID is the last 6 characters of the member's peer ID (its clone's).
func ShortID(m docsync.MemberID) string {
	pub, err := crypto.UnmarshalEd25519PublicKey(m[:])
	if err != nil {
		return "?"
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return "?"
	}
	s := id.String()
	return "…" + s[max(len(s)-6, 0):]
}
