package link

import (
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/internal/wirebytes"
)

// Presence message kinds: their values are fixed (the web page's kinds
// follow them).
const (
	// KindSelection (device -> clone): the device's caret and selection on
	// the clone's text at a version.
	KindSelection Kind = 8
	// KindPresence (clone -> device): every other member's caret on the
	// clone's text at a version (the whole set; an empty one clears it).
	KindPresence Kind = 9
)

// Selection is a caret (Anchor == Head) or a selection, as positions in
// code points (ot.Op positions) of one version of the text.
type Selection struct{ Anchor, Head int }

// PeerPresence is one member device's caret, as a KindPresence carries it.
type PeerPresence struct {
	Member docsync.MemberID
	Name   string // what the clone knows the member by
	Device string // the member's device name
	Sel    Selection
	AgeMS  uint64 // milliseconds since the member last refreshed it, on the clone's clock
}

// Presence limits.
const (
	MaxPresencePeers = 256     // peers in one KindPresence
	MaxPeerName      = 64      // bytes of PeerPresence.Name
	MaxPosition      = 1 << 31 // positions are below this
)

func appendSelection(w *wirebytes.Writer, s Selection) {
	w.Uvarint(uint64(max(s.Anchor, 0)))
	w.Uvarint(uint64(max(s.Head, 0)))
}

func readSelection(r *wirebytes.Reader) Selection {
	a, h := r.Uvarint(), r.Uvarint()
	if r.Err() == nil && (a >= MaxPosition || h >= MaxPosition) {
		r.Fail("selection position")
		return Selection{}
	}
	return Selection{Anchor: int(a), Head: int(h)}
}

func encodePresence(w *wirebytes.Writer, m *Message) {
	w.Uvarint(m.Version)
	peers := m.Peers
	if len(peers) > MaxPresencePeers {
		peers = peers[:MaxPresencePeers]
	}
	w.Uvarint(uint64(len(peers)))
	for _, p := range peers {
		w.Raw(p.Member[:])
		w.String(truncate(p.Name, MaxPeerName))
		w.String(truncate(p.Device, MaxDeviceName))
		appendSelection(w, p.Sel)
		w.Uvarint(p.AgeMS)
	}
}

func decodePresence(r *wirebytes.Reader, m *Message) {
	m.Version = r.Uvarint()
	n := r.Uvarint()
	// Each peer takes at least 32+1+1+1+1+1 bytes: the count is checked
	// against what arrived, and the slice grows as peers decode.
	if r.Err() == nil && (n > MaxPresencePeers || n*37 > uint64(r.Len())) {
		r.Fail("presence peer count")
		return
	}
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		var p PeerPresence
		copy(p.Member[:], r.Fixed(len(p.Member)))
		name, dev := r.Bytes(), r.Bytes()
		p.Sel = readSelection(r)
		p.AgeMS = r.Uvarint()
		if r.Err() != nil {
			return
		}
		if len(name) > MaxPeerName || !utf8.Valid(name) || len(dev) > MaxDeviceName || !utf8.Valid(dev) {
			r.Fail("presence peer")
			return
		}
		p.Name, p.Device = string(name), string(dev)
		m.Peers = append(m.Peers, p)
	}
}

// truncate cuts s to at most n bytes on a code point boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
