package control

import (
	"encoding/hex"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/ot"
)

// Status is GET /v1/status.
type Status struct {
	Peer   string             `json:"peer"`   // the clone's libp2p peer ID
	Member string             `json:"member"` // its MemberID in documents (hex)
	Docs   int                `json:"docs"`
	Stats  cloneservice.Stats `json:"stats"`
}

// DocList is GET /v1/docs: the tracked documents, and those stored but not
// opened at start (with why), which `c2c doc forget` removes.
type DocList struct {
	Docs     []string   `json:"docs"`
	Unopened []Unopened `json:"unopened,omitempty"`
}

// Unopened is a stored document the clone could not open.
type Unopened struct {
	Doc   string `json:"doc"`
	Error string `json:"error"`
}

// CreateRequest is POST /v1/docs. Sequencer is a /.../p2p/<id> multiaddr or
// a bare peer ID (then its addresses are looked up in the DHT).
type CreateRequest struct {
	Sequencer string `json:"sequencer"`
}

// CreateResult answers CreateRequest.
type CreateResult struct {
	Doc string `json:"doc"`
}

// ForkAlarm summarizes a fork proof: two heads the sequencer signed for Seq.
type ForkAlarm struct {
	Seq uint64 `json:"seq"`
	A   string `json:"a"` // chain hash of one branch
	B   string `json:"b"` // chain hash of the other
}

// MisbehaviourAlarm: the sequencer tampered with an entry or forged a
// seq; the evidence is kept (GET /v1/docs/{doc}/evidence).
type MisbehaviourAlarm struct {
	Kind string `json:"kind"` // tamper or forged-seq
	Seq  uint64 `json:"seq"`  // the seq the sequencer signed for the bad entry
}

// StallAlarm: the sequencer withheld for the clone's stall time.
type StallAlarm struct {
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"`
	Detail string    `json:"detail"`
}

// EvidenceItem is one element of GET /v1/docs/{doc}/evidence: Data is
// the encoded docsync.Evidence that c2c verify-evidence checks. The list
// holds every item the clone keeps, against the sequencer the document is
// on and those it recovered from: one per kind and sequencer.
type EvidenceItem struct {
	Kind string `json:"kind"` // fork, tamper or forged-seq
	Seq  uint64 `json:"seq"`
	// Sequencer is the key the evidence implicates, in hex.
	Sequencer string `json:"sequencer"`
	Data      []byte `json:"data"`
}

func stallOf(st *cloneservice.Stall) *StallAlarm {
	if st == nil {
		return nil
	}
	return &StallAlarm{Since: st.Since, Reason: st.Reason.String(), Detail: st.Detail}
}

func misbehaviourOf(ev *docsync.Evidence) *MisbehaviourAlarm {
	if ev == nil {
		return nil
	}
	return &MisbehaviourAlarm{Kind: ev.Kind.String(), Seq: ev.B.Seq}
}

// DocInfo is GET /v1/docs/{doc}.
type DocInfo struct {
	Doc       string     `json:"doc"`
	Sequencer string     `json:"sequencer"`
	Seq       uint64     `json:"seq"`     // last committed seq
	Applied   uint64     `json:"applied"` // last seq whose content is applied
	Head      string     `json:"head"`    // chain hash at Seq
	Epoch     uint64     `json:"epoch"`
	Role      string     `json:"role"`
	Members   int        `json:"members"`
	Pending   bool       `json:"pending"` // an edit of ours is not committed yet
	Missing   [2]uint64  `json:"missing"`
	Alarm     *ForkAlarm `json:"alarm,omitempty"` // the fork that halted the document
	// Misbehaved lists the kinds of evidence kept against the sequencer
	// (tamper, forged-seq): any halted the document.
	Misbehaved []string `json:"misbehaved,omitempty"`
	// Recovered lists the kinds of the alarms (fork, tamper, forged-seq)
	// the document recovered from onto another sequencer.
	Recovered []string    `json:"recovered,omitempty"`
	Stalled   *StallAlarm `json:"stalled,omitempty"` // the sequencer-stalled alarm, while raised
	Broken    string      `json:"broken,omitempty"`  // the storage failure that halted it
	Text      string      `json:"text"`
}

// MemberInfo is one element of GET /v1/docs/{doc}/members.
type MemberInfo struct {
	Member string `json:"member"`
	Peer   string `json:"peer"`
	Role   string `json:"role"`
}

// InviteRequest is POST /v1/docs/{doc}/invite. Role is reader, writer or admin.
type InviteRequest struct {
	User   string `json:"user"`
	Device string `json:"device"`
	Role   string `json:"role"`
}

// InviteResult answers InviteRequest.
type InviteResult struct {
	Member string `json:"member"`
	Peer   string `json:"peer"`
}

// RemoveRequest is POST /v1/docs/{doc}/remove: Member is a MemberID (64 hex
// digits) or the member clone's peer ID.
type RemoveRequest struct {
	Member string `json:"member"`
}

// Edit kinds.
const (
	EditInsert = "insert" // insert Text at At
	EditDelete = "delete" // delete Count code points at At
	EditAppend = "append" // insert Text at the end
	EditSet    = "set"    // replace the whole text by Text
)

// EditRequest is POST /v1/docs/{doc}/edit. Positions count Unicode code
// points of the text as the clone shows it when the edit is applied.
type EditRequest struct {
	Kind  string `json:"kind"`
	Text  string `json:"text,omitempty"`
	At    int    `json:"at,omitempty"`
	Count int    `json:"count,omitempty"`
}

// EditResult answers EditRequest once the edit is durable on the clone
// (acknowledged: it survives a crash and reaches the sequencer).
type EditResult struct {
	Length int `json:"length"` // text length in code points after the edit
}

// LogEntry is one element of GET /v1/docs/{doc}/log.
type LogEntry struct {
	Seq     uint64 `json:"seq"`
	Author  string `json:"author"`
	Counter uint64 `json:"counter"`
	Parent  uint64 `json:"parent"`
	Kind    string `json:"kind"`
	Epoch   uint64 `json:"epoch"`
	Size    int    `json:"size"`
	Chain   string `json:"chain"`
}

// Event is one line of GET /v1/docs/{doc}/events.
type Event struct {
	Kind     string     `json:"kind"` // update, committed, membership, rejected, alarm, resumed, dropped, notice
	Seq      uint64     `json:"seq,omitempty"`
	Author   string     `json:"author,omitempty"`
	Inserted string     `json:"inserted,omitempty"` // update: the text the edit inserted
	Deleted  int        `json:"deleted,omitempty"`  // update: code points it deleted
	Member   string     `json:"member,omitempty"`   // membership: "add <id> writer", ...
	Alarm    *ForkAlarm `json:"alarm,omitempty"`
	// Misbehaviour and Stalled are the other alarms (kind "alarm"); a
	// stalled alarm that clears comes as kind "resumed" with Stalled set.
	Misbehaviour *MisbehaviourAlarm `json:"misbehaviour,omitempty"`
	Stalled      *StallAlarm        `json:"stalled,omitempty"`
	Error        string             `json:"error,omitempty"`
	Time         time.Time          `json:"time"`
	Lost         uint64             `json:"lost,omitempty"`
}

// errorBody is every error response.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func alarmOf(p *docsync.ForkProof) *ForkAlarm {
	if p == nil {
		return nil
	}
	return &ForkAlarm{Seq: p.A.Seq, A: hexOf(p.A.ChainHash[:]), B: hexOf(p.B.ChainHash[:])}
}

func kindName(k docsync.Kind) string {
	switch k {
	case docsync.KindEdit:
		return "edit"
	case docsync.KindMember:
		return "member"
	}
	return "unknown"
}

func memberOpText(op *docsync.MemberOp) string {
	if op == nil {
		return ""
	}
	names := map[docsync.OpType]string{docsync.OpGenesis: "genesis", docsync.OpAdd: "add",
		docsync.OpRemove: "remove", docsync.OpChangeRole: "role"}
	s := names[op.Type] + " " + hexOf(op.Member[:])
	if op.Type != docsync.OpRemove {
		s += " " + op.Role.String()
	}
	return s
}

// eventOf converts a service event for the wire.
func eventOf(ev cloneservice.Event) Event {
	out := Event{Kind: eventKindName(ev.Kind), Seq: ev.Seq, Time: ev.Time, Lost: ev.Lost,
		Alarm: alarmOf(ev.Proof), Member: memberOpText(ev.Member),
		Misbehaviour: misbehaviourOf(ev.Evidence), Stalled: stallOf(ev.Stall)}
	if ev.Author != (docsync.MemberID{}) {
		out.Author = hexOf(ev.Author[:])
	}
	if ev.Err != nil {
		out.Error = ev.Err.Error()
	}
	if ev.Op != nil {
		for _, c := range ev.Op.Comps {
			switch c.Kind {
			case ot.Insert:
				out.Inserted += c.Text
			case ot.Delete:
				out.Deleted += c.N
			}
		}
	}
	return out
}

func eventKindName(k cloneservice.EventKind) string {
	switch k {
	case cloneservice.EventUpdate:
		return "update"
	case cloneservice.EventCommitted:
		return "committed"
	case cloneservice.EventMembership:
		return "membership"
	case cloneservice.EventRejected:
		return "rejected"
	case cloneservice.EventAlarm, cloneservice.EventMisbehaviour, cloneservice.EventStalled:
		return "alarm"
	case cloneservice.EventResumed:
		return "resumed"
	case cloneservice.EventDropped:
		return "dropped"
	case cloneservice.EventNotice:
		return "notice"
	case cloneservice.EventLocal:
		return "local"
	}
	return "unknown"
}

// parseRole reads reader, writer or admin (default writer).
func parseRole(s string) (docsync.Role, bool) {
	switch s {
	case "", "writer":
		return docsync.RoleWriter, true
	case "reader":
		return docsync.RoleReader, true
	case "admin":
		return docsync.RoleAdmin, true
	}
	return 0, false
}
