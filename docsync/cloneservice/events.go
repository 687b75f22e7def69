package cloneservice

import (
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

// EventKind classifies subscription events.
type EventKind uint8

const (
	// EventUpdate: a remote edit, already transformed to apply to the text
	// the device holds (Text() before it plus this Op is Text() after it).
	EventUpdate EventKind = iota + 1
	// EventCommitted: the log advanced to Seq (own and remote entries).
	EventCommitted
	// EventMembership: a membership op committed at Seq (Member).
	EventMembership
	// EventRejected: an ordered entry failed a check (Err); nothing of it applied.
	EventRejected
	// EventAlarm: the sequencer forked the log (Proof). The document stopped.
	EventAlarm
	// EventDropped: local edits were abandoned (e.g. write right lost); Op reverts them.
	EventDropped
	// EventNotice: anything else the replica reported (gaps, locked content, no-ops).
	EventNotice
	// EventLocal: an edit proposed on this clone (Edit, EditFunc,
	// EditFuncMeta); Op applies to the text just before it.
	EventLocal
	// EventMisbehaviour: the sequencer tampered with an entry or forged a
	// seq (Evidence, kept on disk before this event). The document stopped.
	EventMisbehaviour
	// EventStalled: the sequencer withheld for Params.StallAfter (Stall);
	// EventResumed follows when it no longer does.
	EventStalled
	// EventResumed: a stalled sequencer resumed (Stall: the alarm it ends).
	EventResumed
	// EventPresence: other members' carets changed (Change.Presence; for
	// attached observers only).
	EventPresence
	// EventMoved: the document moved to another sequencer at Seq (Member:
	// the signed move); the clone follows it.
	EventMoved
)

func (k EventKind) String() string {
	names := [...]string{"?", "update", "committed", "membership", "rejected", "alarm", "dropped", "notice", "local", "misbehaviour", "stalled", "resumed", "presence", "moved"}
	if int(k) < len(names) {
		return names[k]
	}
	return "?"
}

// Event is one thing a subscriber of a document learns.
type Event struct {
	Doc    docsync.DocID
	Kind   EventKind
	Seq    uint64
	Author docsync.MemberID
	Op     *ot.Op
	Member *docsync.MemberOp
	Proof  *docsync.ForkProof
	// Evidence: EventMisbehaviour's proof.
	Evidence *docsync.Evidence
	// Stall: EventStalled's and EventResumed's alarm.
	Stall *Stall
	Err   error
	Time  time.Time
	// Lost counts events this subscriber missed (buffer full) before this one.
	Lost uint64
}

type subscriber struct {
	ch   chan Event
	lost uint64
}

// emit sends ev to every subscriber of d without blocking (loop only).
func (s *Service) emit(d *docState, ev Event) {
	ev.Doc = d.id
	ev.Time = s.now()
	for _, sub := range d.subs {
		ev.Lost = sub.lost
		select {
		case sub.ch <- ev:
			sub.lost = 0
		default:
			sub.lost++
			s.stats.droppedEvents.Add(1)
		}
	}
}
