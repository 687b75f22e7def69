// Package presencebench measures what presence costs, for c2c bench
// presence: the bytes of a caret on each hop (the device link both ways,
// the presence topic) and the CPU of the real functions each hop runs
// (sealing and signing on the sending clone, checking and opening on each
// receiving clone, moving a caret through an op).
package presencebench

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/presence"
)

// Result is the bench's figures.
type Result struct {
	// Bytes of one caret: the device's Selection frame, the topic message,
	// and the Presence frame a device gets with 1 and with 15 others' carets.
	SelectionFrameBytes int `json:"selection_frame_bytes"`
	TopicMessageBytes   int `json:"topic_message_bytes"`
	PresenceFrame1      int `json:"presence_frame_bytes_1_peer"`
	PresenceFrame15     int `json:"presence_frame_bytes_15_peers"`
	// CPU per caret, mean over Rounds: seal and sign (the sending clone),
	// parse, verify and open (each receiving clone), and one
	// ot.TransformIndex through a one-keystroke op (each hop, per op
	// applied since the caret's version).
	SealUs      float64  `json:"seal_us"`
	ReceiveUs   float64  `json:"receive_us"`
	TransformNs float64  `json:"transform_ns"`
	Rounds      int      `json:"rounds"`
	Notes       []string `json:"notes"`
}

// Run measures; progress goes nowhere (it takes about a second).
func Run() (*Result, error) {
	const rounds = 5000
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	var member docsync.MemberID
	copy(member[:], pub)
	var key docsync.EpochKey
	if _, err := io.ReadFull(rand.Reader, key[:]); err != nil {
		return nil, err
	}
	r := &Result{Rounds: rounds}
	frame := func(m *link.Message) (int, error) { return link.WriteMessage(io.Discard, m) }
	// A caret in a 10,000-character text at version 5,000.
	sel := link.Selection{Anchor: 4321, Head: 4321}
	if r.SelectionFrameBytes, err = frame(&link.Message{Kind: link.KindSelection, Version: 5000, Sel: sel}); err != nil {
		return nil, err
	}
	peers := make([]link.PeerPresence, 15)
	for i := range peers {
		peers[i] = link.PeerPresence{Member: docsync.MemberID{byte(i)}, Name: fmt.Sprintf("phone-%d", i), Device: fmt.Sprintf("phone-%d", i),
			Sel: sel, AgeMS: 1500}
	}
	if r.PresenceFrame1, err = frame(&link.Message{Kind: link.KindPresence, Version: 5000, Peers: peers[:1]}); err != nil {
		return nil, err
	}
	if r.PresenceFrame15, err = frame(&link.Message{Kind: link.KindPresence, Version: 5000, Peers: peers}); err != nil {
		return nil, err
	}

	u := &presence.Update{Doc: docsync.DocID{1}, Member: member, Epoch: 2, Stamp: uint64(time.Now().UnixMilli()),
		Device: "phone-0", Seq: 5000, Anchor: 4321, Head: 4321}
	msgs := make([][]byte, rounds)
	start := time.Now()
	for i := range msgs {
		u.Stamp++
		if msgs[i], err = presence.Seal(u, key, priv, rand.Reader); err != nil {
			return nil, err
		}
	}
	r.SealUs = float64(time.Since(start).Microseconds()) / rounds
	r.TopicMessageBytes = len(msgs[0])
	start = time.Now()
	for _, b := range msgs {
		s, err := presence.Parse(b)
		if err != nil {
			return nil, err
		}
		if _, err := s.Open(key); err != nil {
			return nil, err
		}
	}
	r.ReceiveUs = float64(time.Since(start).Microseconds()) / rounds

	// One keystroke in a 10,000-character text, before the caret.
	op, err := ot.FromPatch(10000, 1234, 0, "x")
	if err != nil {
		return nil, err
	}
	const maps = 200000
	sum := 0
	start = time.Now()
	for i := range maps {
		sum += ot.TransformIndex(op, 4321+i%2, false)
	}
	r.TransformNs = float64(time.Since(start).Nanoseconds()) / maps
	if sum != maps*4322+maps/2 {
		return nil, fmt.Errorf("presencebench: a caret moved wrong")
	}
	r.Notes = append(r.Notes, "CPU figures are wall time per call on this machine, single goroutine; a loaded machine shows more")
	return r, nil
}
