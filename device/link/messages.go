package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
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
	Edit   *jupiter.Edit   // KindEdit
	Bundle *jupiter.Bundle // KindBundle
	Op     *ot.Op          // KindOp
	Ack    uint64          // KindAck
	Code   RefuseCode      // KindRefuse
	Reason string          // KindRefuse
}

// Limits bound decoding.
const (
	MaxDeviceName = 64
	MaxReason     = 1024
)

// Encode returns m's body (kind byte first).
func Encode(m *Message) ([]byte, error) {
	b := []byte{byte(m.Kind)}
	var err error
	switch m.Kind {
	case KindHello:
		h := m.Hello
		b = appendBytes(b, []byte(h.User))
		b = appendBytes(b, []byte(h.Device))
		b = append(b, h.Doc[:]...)
		b = binary.AppendUvarint(b, h.State.Epoch)
		b = binary.AppendUvarint(b, h.State.Version)
		var flags uint64
		if h.State.Inflight != nil {
			flags |= 1
		}
		if h.State.Buffered {
			flags |= 2
		}
		b = binary.AppendUvarint(b, flags)
		if e := h.State.Inflight; e != nil {
			b, err = appendEdit(b, e)
		}
	case KindEdit:
		b, err = appendEdit(b, m.Edit)
	case KindBundle:
		bd := m.Bundle
		b = binary.AppendUvarint(b, bd.Epoch)
		b = binary.AppendUvarint(b, bd.From)
		b = binary.AppendUvarint(b, bd.To)
		if bd.Snapshot != nil {
			flag := byte(1)
			if bd.Unapplied {
				flag = 2
			}
			b = append(b, flag)
			b = appendBytes(b, []byte(*bd.Snapshot))
		} else {
			b = append(b, 0)
			b, err = appendOp(b, bd.Op)
		}
	case KindOp:
		b, err = m.Op.AppendBinary(b)
	case KindAck:
		b = binary.AppendUvarint(b, m.Ack)
	case KindRefuse:
		reason := m.Reason
		if len(reason) > MaxReason {
			reason = strings.ToValidUTF8(reason[:MaxReason], "")
		}
		b = append(b, byte(m.Code))
		b = appendBytes(b, []byte(reason))
	default:
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, m.Kind)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendOp(b []byte, op ot.Op) ([]byte, error) {
	enc, err := op.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return appendBytes(b, enc), nil
}

func appendEdit(b []byte, e *jupiter.Edit) ([]byte, error) {
	b = binary.AppendUvarint(b, e.Counter)
	b = binary.AppendUvarint(b, e.Base)
	return appendOp(b, e.Op)
}

// Decode parses one message body.
func Decode(b []byte) (*Message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	m := &Message{Kind: Kind(b[0])}
	r := &reader{b: b[1:]}
	switch m.Kind {
	case KindHello:
		h := &Hello{}
		user := r.bytes()
		dev := r.bytes()
		copy(h.Doc[:], r.fixed(len(h.Doc)))
		h.State.Epoch, h.State.Version = r.uvarint(), r.uvarint()
		flags := r.uvarint()
		if r.err == nil {
			if len(dev) > MaxDeviceName || !utf8.Valid(dev) || flags > 3 {
				r.fail("hello fields")
			} else if _, err := peer.IDFromBytes(user); err != nil {
				r.fail("user ID")
			}
		}
		h.User, h.Device, h.State.Buffered = peer.ID(user), string(dev), flags&2 != 0
		if flags&1 != 0 {
			h.State.Inflight = r.edit()
		}
		m.Hello = h
	case KindEdit:
		m.Edit = r.edit()
	case KindBundle:
		bd := &jupiter.Bundle{Epoch: r.uvarint(), From: r.uvarint(), To: r.uvarint()}
		switch snap := r.fixed(1); {
		case r.err != nil:
		case snap[0] == 1 || snap[0] == 2:
			bd.Unapplied = snap[0] == 2
			t := r.bytes()
			if r.err == nil && !utf8.Valid(t) {
				r.fail("snapshot text")
			}
			s := string(t)
			bd.Snapshot = &s
		case snap[0] == 0:
			bd.Op = r.op()
		default:
			r.fail("bundle flag")
		}
		m.Bundle = bd
	case KindOp:
		op := r.opRest()
		m.Op = &op
	case KindAck:
		m.Ack = r.uvarint()
	case KindRefuse:
		code := r.fixed(1)
		reason := r.bytes()
		if r.err == nil {
			m.Code, m.Reason = RefuseCode(code[0]), string(reason)
			if len(reason) > MaxReason || !utf8.Valid(reason) {
				r.fail("reason")
			}
		}
	default:
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, m.Kind)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}
