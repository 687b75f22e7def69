package link

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/internal/wirebytes"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Errors returned by this package.
var (
	// ErrMalformed: a frame or message failed to decode.
	ErrMalformed = errors.New("link: malformed message")
	// ErrFrameTooLarge: a frame's length exceeds the reader's limit.
	ErrFrameTooLarge = errors.New("link: frame too large")
)

// Kind is a message's first byte.
type Kind byte

// Message kinds.
const (
	KindHello Kind = iota + 1
	KindEdit
	KindBundle
	KindOp
	KindAck
	KindRefuse
	KindAlarm
)

// AlarmCode says what a clone's alarm about a document's sequencer is.
type AlarmCode uint8

// Alarm codes (the fork and misbehaviour alarms stop the document: they
// come as a Refuse and the session ends).
const (
	AlarmStalled AlarmCode = iota + 1 // the sequencer withholds; Reason says what
	AlarmResumed                      // it no longer does
)

// RefuseCode says why the clone refused a device.
type RefuseCode uint8

// Refusal reasons.
const (
	RefuseWrongKey   RefuseCode = iota + 1 // the certificate names another device key
	RefuseUnenrolled                       // no certificate for this device name
	RefuseOtherUser                        // the device belongs to another user
	RefuseUnknownDoc                       // the clone does not hold the document
	RefuseState                            // the device's state does not fit (ErrEpoch, ErrBase, ...)
	RefuseInternal                         // anything else on the clone
)

// Hello opens a session.
type Hello struct {
	User   peer.ID
	Device string
	Doc    docsync.DocID
	State  jupiter.Hello
}

// Message is one decoded frame: Kind says which fields are set.
type Message struct {
	Kind   Kind
	Hello  *Hello
	Edit   *jupiter.Edit    // KindEdit
	Bundle *jupiter.Bundle  // KindBundle
	Op     *ot.Op           // KindOp
	Seq    uint64           // KindOp: the committed entry the op came from (0: not committed yet)
	Author docsync.MemberID // KindOp: that entry's author (zero with Seq 0)
	Ack    uint64           // KindAck
	Code   RefuseCode       // KindRefuse
	Alarm  AlarmCode        // KindAlarm
	Reason string           // KindRefuse, KindAlarm
	// Version: the clone version a KindSelection's or KindPresence's
	// positions refer to.
	Version uint64
	Sel     Selection      // KindSelection
	Peers   []PeerPresence // KindPresence
	Members []MemberInfo   // KindMembers
}

// Limits bound decoding.
const (
	MaxDeviceName = 64
	MaxReason     = 1024
)

// Encode returns m's body (kind byte first).
func Encode(m *Message) ([]byte, error) {
	w := wirebytes.NewWriter([]byte{byte(m.Kind)})
	switch m.Kind {
	case KindHello:
		h := m.Hello
		w.String(string(h.User))
		w.String(h.Device)
		w.Raw(h.Doc[:])
		w.Uvarint(h.State.Epoch)
		w.Uvarint(h.State.Version)
		var flags uint64
		if h.State.Inflight != nil {
			flags |= 1
		}
		if h.State.Buffered {
			flags |= 2
		}
		w.Uvarint(flags)
		if e := h.State.Inflight; e != nil {
			jupiter.AppendEdit(w, e)
		}
	case KindEdit:
		jupiter.AppendEdit(w, m.Edit)
	case KindBundle:
		bd := m.Bundle
		w.Uvarint(bd.Epoch)
		w.Uvarint(bd.From)
		w.Uvarint(bd.To)
		if bd.Snapshot != nil {
			flag := byte(1)
			if bd.Unapplied {
				flag = 2
			}
			w.Byte(flag)
			w.String(*bd.Snapshot)
		} else {
			w.Byte(0)
			w.Marshal(bd.Op)
		}
	case KindOp:
		w.Uvarint(m.Seq)
		w.Raw(m.Author[:])
		w.Append(m.Op.AppendBinary)
	case KindAck:
		w.Uvarint(m.Ack)
	case KindRefuse:
		reason := m.Reason
		if len(reason) > MaxReason {
			reason = strings.ToValidUTF8(reason[:MaxReason], "")
		}
		w.Byte(byte(m.Code))
		w.String(reason)
	case KindAlarm:
		reason := m.Reason
		if len(reason) > MaxReason {
			reason = strings.ToValidUTF8(reason[:MaxReason], "")
		}
		w.Byte(byte(m.Alarm))
		w.String(reason)
	case KindSelection:
		w.Uvarint(m.Version)
		appendSelection(w, m.Sel)
	case KindPresence:
		encodePresence(w, m)
	case KindMembers:
		encodeMembers(w, m)
	default:
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, m.Kind)
	}
	return w.Result()
}

// Decode parses one message body.
func Decode(b []byte) (*Message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	m := &Message{Kind: Kind(b[0])}
	r := wirebytes.NewReader(b[1:], ErrMalformed)
	switch m.Kind {
	case KindHello:
		h := &Hello{}
		user := r.Bytes()
		dev := r.Bytes()
		copy(h.Doc[:], r.Fixed(len(h.Doc)))
		h.State.Epoch, h.State.Version = r.Uvarint(), r.Uvarint()
		flags := r.Uvarint()
		if r.Err() == nil {
			if len(dev) > MaxDeviceName || !utf8.Valid(dev) || flags > 3 {
				r.Fail("hello fields")
			} else if _, err := peer.IDFromBytes(user); err != nil {
				r.Fail("user ID")
			}
		}
		h.User, h.Device, h.State.Buffered = peer.ID(user), string(dev), flags&2 != 0
		if flags&1 != 0 {
			h.State.Inflight = readEdit(r)
		}
		m.Hello = h
	case KindEdit:
		m.Edit = readEdit(r)
	case KindBundle:
		bd := &jupiter.Bundle{Epoch: r.Uvarint(), From: r.Uvarint(), To: r.Uvarint()}
		switch snap := r.Fixed(1); {
		case r.Err() != nil:
		case snap[0] == 1 || snap[0] == 2:
			bd.Unapplied = snap[0] == 2
			t := r.Bytes()
			if r.Err() == nil && !utf8.Valid(t) {
				r.Fail("snapshot text")
			}
			s := string(t)
			bd.Snapshot = &s
		case snap[0] == 0:
			r.Unmarshal(&bd.Op)
		default:
			r.Fail("bundle flag")
		}
		m.Bundle = bd
	case KindOp:
		m.Seq = r.Uvarint()
		copy(m.Author[:], r.Fixed(len(m.Author)))
		op := new(ot.Op)
		r.UnmarshalRest(op)
		m.Op = op
	case KindAck:
		m.Ack = r.Uvarint()
	case KindRefuse:
		code := r.Fixed(1)
		reason := r.Bytes()
		if r.Err() == nil {
			m.Code, m.Reason = RefuseCode(code[0]), string(reason)
			if len(reason) > MaxReason || !utf8.Valid(reason) {
				r.Fail("reason")
			}
		}
	case KindAlarm:
		code := r.Fixed(1)
		reason := r.Bytes()
		if r.Err() == nil {
			m.Alarm, m.Reason = AlarmCode(code[0]), string(reason)
			if m.Alarm < AlarmStalled || m.Alarm > AlarmResumed || len(reason) > MaxReason || !utf8.Valid(reason) {
				r.Fail("alarm")
			}
		}
	case KindSelection:
		m.Version = r.Uvarint()
		m.Sel = readSelection(r)
	case KindPresence:
		decodePresence(r, m)
	case KindMembers:
		decodeMembers(r, m)
	default:
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, m.Kind)
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return m, nil
}

// readEdit reads an edit; counter 0 is never sent.
func readEdit(r *wirebytes.Reader) *jupiter.Edit {
	e := jupiter.ReadEdit(r)
	if r.Err() == nil && e.Counter == 0 {
		r.Fail("edit counter 0")
	}
	return e
}
