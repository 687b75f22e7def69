package syncwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/replication"
)

// Protocol is the sync protocol's ID.
const Protocol = "/c2c/mirror/1.0.0"

// Errors. Each decoding failure wraps ErrMalformed, ErrTruncated or
// ErrTooLarge.
var (
	ErrMalformed = errors.New("syncwire: malformed message")
	ErrTruncated = errors.New("syncwire: truncated message")
	ErrTooLarge  = errors.New("syncwire: message too large")
)

// Kind is a message's first byte.
type Kind byte

// Message kinds.
const (
	KindHello    Kind = iota + 1 // device -> clone, first
	KindWelcome                  // clone -> device, answer to Hello
	KindRefuse                   // clone -> device, then the stream ends
	KindBatch                    // device -> clone: an encoded replication.Batch
	KindChunk                    // device -> clone: a payload or state chunk
	KindOffer                    // device -> clone: an encoded replication.Offer
	KindNet                      // clone -> device: a relayed network input
	KindAck                      // clone -> device: batches through Number are durable
	KindReplayed                 // clone -> device: a batch was replayed
	KindResync                   // clone -> device: freeze and offer
	KindWant                     // clone -> device: send these chunks
	KindDone                     // clone -> device: resync over
	kindEnd
)

// Caps.
const (
	HelloFrame   = 2 << 10                        // the first frame, read before authorization
	MaxFrame     = replication.MaxOfferBytes + 64 // any later frame
	MaxHelloApps = 16                             // apps named in a Hello
	MaxUserID    = 64                             // a peer ID's bytes
	MaxReason    = 512                            // a refusal's text
	MaxWant      = 4096                           // hashes in one Want
	maxTime      = 1 << 62                        // times, seqs and numbers
	maxMillis    = uint64(3600_000)               // t_syn_int and t_max: at most an hour
)

// RefuseCode says why the clone refused.
type RefuseCode uint8

// Refusal reasons.
const (
	RefuseWrongKey   RefuseCode = iota + 1 // the certificate names another device key
	RefuseUnenrolled                       // no certificate for this device name
	RefuseOtherUser                        // the device belongs to another user
	RefuseParams                           // epoch, apps or parameters differ from the mirror's
	RefuseState                            // the mirror holds more than the device (it lost state)
	RefuseBatch                            // a batch, offer or chunk was refused
	RefuseInternal                         // anything else on the clone
	refuseEnd
)

// Cause codes of a Resync, the core's divergence causes.
const (
	CauseMismatch = 1 // replication.ErrStateMismatch
	CauseGap      = 2 // replication.ErrBatchGap
	CauseEnrol    = 3 // replication.ErrEnrol
)

// Hello opens a sync session.
type Hello struct {
	User     []byte // the user's peer ID, as bytes
	Device   string // the enrolled device name
	Epoch    uint64
	SyncMs   uint64 // t_syn_int
	MaxDelay uint64 // t_max, ms
	Apps     []string
	Number   uint64 // the last batch the device closed
	NextSeq  uint64
	LastNet  uint64 // the last network input it consumed
}

// Welcome answers a Hello.
type Welcome struct {
	Taken     uint64 // the last batch the mirror holds durably
	Relayed   uint64 // the last network input relayed
	Replayed  uint64 // the last batch replayed
	StateHash replication.Hash
}

// Replayed reports one replayed batch.
type Replayed struct {
	Number    uint64
	Match     bool
	LagMs     uint64 // the batch's oldest input's lag
	StateHash replication.Hash
}

// Net is a network input relayed to the device.
type Net struct {
	NetSeq  uint64
	App     string
	Payload []byte
}

// Message is one decoded frame; Kind says which field is set.
type Message struct {
	Kind     Kind
	Hello    *Hello
	Welcome  *Welcome
	Code     RefuseCode // KindRefuse
	Reason   string     // KindRefuse
	Data     []byte     // KindBatch, KindChunk, KindOffer
	Net      *Net
	Number   uint64 // KindAck, KindResync, KindDone
	Cause    uint8  // KindResync
	Replayed *Replayed
	Want     []replication.Hash
}

// Encode returns m's body, kind byte first.
func Encode(m *Message) ([]byte, error) {
	b := []byte{byte(m.Kind)}
	u := binary.AppendUvarint
	switch m.Kind {
	case KindHello:
		h := m.Hello
		if h == nil || len(h.User) == 0 || len(h.User) > MaxUserID || len(h.Apps) == 0 || len(h.Apps) > MaxHelloApps {
			return nil, fmt.Errorf("%w: hello", ErrMalformed)
		}
		b = appendBytes(b, h.User)
		b = appendBytes(b, []byte(h.Device))
		b = u(u(u(b, h.Epoch), h.SyncMs), h.MaxDelay)
		b = u(b, uint64(len(h.Apps)))
		for _, a := range h.Apps {
			b = appendBytes(b, []byte(a))
		}
		b = u(u(u(b, h.Number), h.NextSeq), h.LastNet)
	case KindWelcome:
		w := m.Welcome
		if w == nil {
			return nil, fmt.Errorf("%w: welcome", ErrMalformed)
		}
		b = u(u(u(b, w.Taken), w.Relayed), w.Replayed)
		b = append(b, w.StateHash[:]...)
	case KindRefuse:
		b = append(b, byte(m.Code))
		b = appendBytes(b, []byte(truncate(m.Reason, MaxReason)))
	case KindBatch, KindChunk, KindOffer:
		b = append(b, m.Data...)
	case KindNet:
		n := m.Net
		if n == nil {
			return nil, fmt.Errorf("%w: net", ErrMalformed)
		}
		b = u(b, n.NetSeq)
		b = appendBytes(b, []byte(n.App))
		b = append(b, n.Payload...)
	case KindAck, KindDone:
		b = u(b, m.Number)
	case KindResync:
		b = append(u(b, m.Number), m.Cause)
	case KindReplayed:
		r := m.Replayed
		if r == nil {
			return nil, fmt.Errorf("%w: replayed", ErrMalformed)
		}
		b = u(b, r.Number)
		b = append(b, boolByte(r.Match))
		b = u(b, r.LagMs)
		b = append(b, r.StateHash[:]...)
	case KindWant:
		if len(m.Want) == 0 || len(m.Want) > MaxWant {
			return nil, fmt.Errorf("%w: want of %d hashes", ErrMalformed, len(m.Want))
		}
		b = u(b, uint64(len(m.Want)))
		for i := range m.Want {
			b = append(b, m.Want[i][:]...)
		}
	default:
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, m.Kind)
	}
	return b, nil
}

func appendBytes(b, s []byte) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Params returns the core's default Params with the t_syn_int and t_max
// (milliseconds) that a Hello carries.
func Params(syncMs, maxDelayMs uint64) replication.Params {
	p := replication.DefaultParams()
	p.SyncInterval = time.Duration(syncMs) * time.Millisecond
	p.MaxDelay = time.Duration(maxDelayMs) * time.Millisecond
	return p
}
