package web

import (
	"encoding/hex"

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
// ClientPresence, the default, is the device client's.
type Presence interface {
	SetSelection(Selection) error
	Peers() []Peer
	Updates() <-chan struct{}
}

// PresenceFunc returns a document's presence (nil: none).
type PresenceFunc func(*client.Doc) Presence

// members is the document's member list as the clone last sent it.
func members(d *client.Doc) []Member {
	ms := d.Members()
	out := make([]Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, Member{ID: hex.EncodeToString(m.Member[:]), Role: m.Role.String(), Self: m.Self})
	}
	return out
}

// clientPresence is a client.Doc's presence as the page sees it.
type clientPresence struct{ d *client.Doc }

// ClientPresence is the default PresenceFunc: the device's own presence
// (client.Doc.SetSelection, Presence, PresenceUpdates).
func ClientPresence(d *client.Doc) Presence { return clientPresence{d} }

func (p clientPresence) SetSelection(s Selection) error {
	return p.d.SetSelection(client.Selection{Anchor: s.Anchor, Head: s.Head})
}

func (p clientPresence) Updates() <-chan struct{} { return p.d.PresenceUpdates() }

func (p clientPresence) Peers() []Peer {
	ps := p.d.Presence()
	out := make([]Peer, 0, len(ps))
	for _, q := range ps {
		out = append(out, Peer{Member: hex.EncodeToString(q.Member[:]), Name: q.Name, Color: q.Color, Device: q.Device,
			Sel: Selection{Anchor: q.Sel.Anchor, Head: q.Sel.Head}})
	}
	return out
}
