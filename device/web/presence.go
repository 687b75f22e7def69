package web

import (
	"github.com/clone2clone/c2c/device/client"
)

// Selection is a caret (Anchor == Head) or a selection, in the text's ot
// units (code points).
type Selection struct {
	Anchor int `json:"a"`
	Head   int `json:"h"`
}

// Peer is another member's caret as the page draws it.
type Peer struct {
	Member string    `json:"member"` // hex member ID
	Name   string    `json:"name"`
	Color  string    `json:"color"`
	Device string    `json:"device,omitempty"`
	Sel    Selection `json:"sel"`
}

// Member is one row of the member list.
type Member struct {
	ID   string `json:"id"` // hex member ID
	Name string `json:"name,omitempty"`
	Role string `json:"role"`
	Self bool   `json:"self,omitempty"`
}

// Presence is what the page needs of a document's presence: send the
// device's selection, read the others' carets, and hear when they change.
// The client's presence (branch presence) provides it for a client.Doc;
// until then a Server has none and draws only the local caret.
type Presence interface {
	SetSelection(Selection) error
	Peers() []Peer
	Updates() <-chan struct{}
}

// Members is what the page needs of a document's member list.
type Members interface {
	Members() []Member
	Updates() <-chan struct{}
}

// PresenceFunc returns a document's presence (nil: none).
type PresenceFunc func(*client.Doc) Presence

// MembersFunc returns a document's member list (nil: none).
type MembersFunc func(*client.Doc) Members
