package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync/ot"
)

// ErrMessage: a page's message is malformed or over a bound.
var ErrMessage = errors.New("web: bad message from the page")

// inMsg is a message from the page. T says which fields matter.
type inMsg struct {
	T       string          `json:"t"`
	Doc     string          `json:"doc,omitempty"`    // open
	Counter uint64          `json:"c,omitempty"`      // edit: the page's edit number (1, 2, ...)
	Base    uint64          `json:"v,omitempty"`      // edit: the hub version the op is based on
	Op      json.RawMessage `json:"op,omitempty"`     // edit
	Join    bool            `json:"g,omitempty"`      // edit: joins the last undo step (a run of typing)
	Anchor  int             `json:"a,omitempty"`      // sel
	Head    int             `json:"h,omitempty"`      // sel
	Online  bool            `json:"online,omitempty"` // connect
}

// Page message types.
const (
	inOpen    = "open"    // show a document
	inEdit    = "edit"    // a local edit
	inUndo    = "undo"    // undo the device's last edit
	inRedo    = "redo"    // redo
	inSel     = "sel"     // the caret or selection moved
	inConnect = "connect" // go online (Online) or offline
	inMirror  = "mirror"  // list the phone's mirrored apps
	inScan    = "scan"    // ask the clone for a scan report
)

// decodeIn parses one page message (already bounded in size by the
// WebSocket's read limit) and checks its fields; an edit's op is decoded
// with decodeOp.
func decodeIn(b []byte) (*inMsg, *ot.Op, error) {
	var m inMsg
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMessage, err)
	}
	switch m.T {
	case inOpen:
		if len(m.Doc) != 64 {
			return nil, nil, fmt.Errorf("%w: document ID", ErrMessage)
		}
	case inEdit:
		if m.Counter == 0 {
			return nil, nil, fmt.Errorf("%w: edit counter 0", ErrMessage)
		}
		op, err := decodeOp(m.Op)
		if err != nil {
			return nil, nil, err
		}
		return &m, &op, nil
	case inSel:
		if m.Anchor < 0 || m.Head < 0 {
			return nil, nil, fmt.Errorf("%w: selection", ErrMessage)
		}
	case inUndo, inRedo, inConnect, inMirror, inScan:
	default:
		return nil, nil, fmt.Errorf("%w: type %q", ErrMessage, m.T)
	}
	return &m, nil, nil
}

// maxCount bounds a retain or delete count (a text this long does not fit
// a page message anyway).
const maxCount = math.MaxInt32

// decodeOp reads an op in ot.js's JSON form: a positive number retains, a
// negative one deletes, a string inserts; counts are code points.
func decodeOp(b []byte) (ot.Op, error) {
	var comps []json.RawMessage
	if err := json.Unmarshal(b, &comps); err != nil {
		return ot.Op{}, fmt.Errorf("%w: op: %w", ErrMessage, err)
	}
	var op ot.Op
	for _, c := range comps {
		if len(c) > 0 && c[0] == '"' {
			var s string
			if err := json.Unmarshal(c, &s); err != nil || s == "" || !utf8.ValidString(s) {
				return ot.Op{}, fmt.Errorf("%w: op insert", ErrMessage)
			}
			op.Insert(s)
			continue
		}
		var n int64
		if err := json.Unmarshal(c, &n); err != nil || n == 0 || n > maxCount || n < -maxCount {
			return ot.Op{}, fmt.Errorf("%w: op count %s", ErrMessage, c)
		}
		if n > 0 {
			op.Retain(int(n))
		} else {
			op.Delete(int(-n))
		}
	}
	if err := op.Validate(); err != nil {
		return ot.Op{}, fmt.Errorf("%w: %w", ErrMessage, err)
	}
	return op, nil
}

// encodeOp writes op in the form decodeOp reads.
func encodeOp(op ot.Op) []any {
	out := make([]any, 0, len(op.Comps))
	for _, c := range op.Comps {
		switch c.Kind {
		case ot.Retain:
			out = append(out, c.N)
		case ot.Insert:
			out = append(out, c.Text)
		case ot.Delete:
			out = append(out, -c.N)
		}
	}
	return out
}

// Messages to the page.

type docInfo struct {
	ID   string `json:"id"`
	Open bool   `json:"open"` // a hub holds it now
}

// status is what the banner, the offline indicator and the undo buttons show.
type status struct {
	Online  bool   `json:"online"`
	Wanted  bool   `json:"wanted"`            // the user wants it online (not the offline button)
	Pending bool   `json:"pending"`           // device edits not acknowledged by the clone
	Alarm   string `json:"alarm,omitempty"`   // the sequencer stalled (the session goes on)
	Refused string `json:"refused,omitempty"` // the clone ended the session: a fork, a misbehaviour, a refusal
	LinkErr string `json:"linkErr,omitempty"` // why the last connection ended
	CanUndo bool   `json:"canUndo"`
	CanRedo bool   `json:"canRedo"`
}

type outMsg struct {
	T       string    `json:"t"`
	Docs    []docInfo `json:"docs,omitempty"`    // docs
	Doc     string    `json:"doc,omitempty"`     // snapshot
	Text    *string   `json:"text,omitempty"`    // snapshot
	Version uint64    `json:"v,omitempty"`       // snapshot, op: hub version after it
	Op      []any     `json:"op,omitempty"`      // op
	Join    bool      `json:"g,omitempty"`       // edit: joins the last undo step (a run of typing)
	Status  *status   `json:"status,omitempty"`  // status
	Members []Member  `json:"members,omitempty"` // members
	Peers   []Peer    `json:"peers,omitempty"`   // presence
	Self    string    `json:"self,omitempty"`    // docs: this device's name
	Error   string    `json:"error,omitempty"`   // error, mirror, scan
	Views   []View    `json:"views,omitempty"`   // mirror, scan
}
