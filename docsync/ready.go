package docsync

import (
	"fmt"

	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/wire"
	"google.golang.org/protobuf/proto"
)

// Ready is the output a Replica accumulated since the last Advance. The caller
// persists Entries and Pending first, then sends Submit to the sequencer,
// hands Updates to the device, gossips Head, issues Fetch requests and
// surfaces Events, and finally calls Advance.
type Ready struct {
	// Entries newly committed, in seq order.
	Entries []*Entry
	// Pending is the new in-flight envelope and buffer when they changed.
	Pending *Pending
	// Submit holds envelopes to send to the sequencer (new or re-sealed).
	Submit []*Envelope
	// Updates are remote edits transformed to apply to the local text, in order.
	Updates []Update
	// Head is the latest committed head to gossip, when it moved.
	Head *Head
	// Fetch lists seq ranges missing below entries or heads we have seen.
	Fetch []FetchRange
	// Events reports check failures, forks, gaps and membership changes.
	Events []Event
}

// Pending is what a clone must persist to never lose or re-number a local
// edit: the in-flight envelope, the buffer of composed edits not yet sent,
// and the author counter.
type Pending struct {
	InFlight *Envelope
	Buffer   *ot.Op
	Counter  uint64
}

// Update is a committed remote edit, transformed against this clone's
// in-flight envelope and buffer so it applies to the local text.
type Update struct {
	Seq    uint64
	Author MemberID
	Op     ot.Op
}

// FetchRange asks for entries From..To inclusive, from the sequencer or any member.
type FetchRange struct{ From, To uint64 }

// EventKind classifies events.
type EventKind uint8

const (
	// EventRejected: an ordered entry failed a check; nothing of it was applied. Err says which.
	EventRejected EventKind = iota + 1
	// EventNoop: an entry committed but its content was unusable (ErrDecrypt, ErrBadOp).
	EventNoop
	// EventFork: the sequencer equivocated; Proof holds the evidence. The replica stops.
	EventFork
	// EventGap: entries are missing; a fetch was requested.
	EventGap
	// EventLocked: content waits for an epoch key this clone does not hold (ErrNoEpochKey).
	EventLocked
	// EventMembership: a membership op committed.
	EventMembership
	// EventDropped: a local in-flight envelope or buffer was abandoned (e.g. we lost write rights).
	EventDropped
	// EventEvidence: a rejected entry proves the sequencer misbehaved
	// (tamper or forged seq); Evidence holds the transferable proof.
	EventEvidence
	// EventMoved: a move to another sequencer committed; Op names it. The
	// service sends to the new sequencer (Log().Sequencer()) from now on.
	EventMoved
)

func (k EventKind) String() string {
	names := [...]string{"?", "rejected", "noop", "fork", "gap", "locked", "membership", "dropped", "evidence", "moved"}
	if int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("event(%d)", k)
}

// Event is something the service should surface to the owner or operator.
type Event struct {
	Kind  EventKind
	Seq   uint64
	Err   error
	Proof *ForkProof
	Op    *MemberOp
	// Evidence: for EventEvidence.
	Evidence *Evidence
}

// Marshal encodes p for persistence.
func (p *Pending) Marshal() ([]byte, error) {
	w := &wire.Pending{Counter: p.Counter}
	if p.InFlight != nil {
		w.InFlight = p.InFlight.toWire()
	}
	if p.Buffer != nil {
		b, err := p.Buffer.MarshalBinary()
		if err != nil {
			return nil, err
		}
		w.Buffer = b
	}
	return proto.Marshal(w)
}

// DecodePending decodes a persisted Pending.
func DecodePending(b []byte) (*Pending, error) {
	var w wire.Pending
	if err := unmarshal(b, MaxEnvelopeBytes+MaxBodyBytes+64, &w, "pending"); err != nil {
		return nil, err
	}
	p := &Pending{Counter: w.Counter}
	if w.InFlight != nil {
		env, err := envelopeFromWire(w.InFlight)
		if err != nil {
			return nil, err
		}
		p.InFlight = env
	}
	if len(w.Buffer) > 0 {
		op, err := ot.Decode(w.Buffer)
		if err != nil {
			return nil, fmt.Errorf("%w: pending buffer: %v", ErrMalformed, err)
		}
		p.Buffer = &op
	}
	return p, nil
}
