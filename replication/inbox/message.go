package inbox

import (
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/journal"
)

// Limits of one message.
const (
	MaxMessageBytes = 1 << 20 // the whole encoding: a network input's payload cap
	MaxTextBytes    = 16 << 10
	MaxAttachments  = 16
	MaxNameBytes    = 255
	MaxIDBytes      = 64 // a user ID or a device name
)

// ErrBadMessage: a message that does not decode, or breaks a limit.
var ErrBadMessage = errors.New("inbox: invalid message")

// Attachment is a file carried by a message.
type Attachment struct {
	Name string
	Data []byte
}

// Message is what one user's clone delivers to another's: the payload of
// an inbox network input, and the body of a clone-to-clone delivery.
type Message struct {
	ID         [32]byte // the sender's outbox request ID: with From, the dedup key
	From       []byte   // the sender's user ID (peer ID bytes)
	FromDevice string
	To         []byte // the recipient's user ID
	ToDevice   string // empty: any of the recipient's devices
	Sent       replication.Time
	Text       string
	Files      []Attachment
	// Linked are files sent by reference: the recipient's clone pulls
	// their blocks from the sender's clone (package blobxfer) before it
	// relays the message, and its device pulls them from its clone.
	Linked []Attached
}

// Formats: 'M' without Linked (the original encoding, unchanged), 'L'
// with them.
const (
	formatMessage = 'M'
	formatLinked  = 'L'
)

// Marshal encodes m: 'M' id[32] from fromDevice to toDevice sent text
// nFiles (name data)..., each string uvarint-length-prefixed; with linked
// files 'L', the same, then nLinked (name ref)... (boxostore.AppendRef).
func (m *Message) Marshal() []byte {
	format := byte(formatMessage)
	if len(m.Linked) > 0 {
		format = formatLinked
	}
	r := journal.NewRec(format)
	r = append(r, m.ID[:]...)
	r = r.B(m.From).B([]byte(m.FromDevice)).B(m.To).B([]byte(m.ToDevice)).U(uint64(m.Sent)).B([]byte(m.Text)).U(uint64(len(m.Files)))
	for _, f := range m.Files {
		r = r.B([]byte(f.Name)).B(f.Data)
	}
	if format == formatLinked {
		r = r.U(uint64(len(m.Linked)))
		for _, f := range m.Linked {
			r = boxostore.AppendRef(r.B([]byte(f.Name)), f.Ref)
		}
	}
	return r
}

// Size returns the size of m's encoding without building it.
func (m *Message) Size() int {
	n := 64 + len(m.From) + len(m.FromDevice) + len(m.To) + len(m.ToDevice) + len(m.Text)
	for _, f := range m.Files {
		n += 16 + len(f.Name) + len(f.Data)
	}
	for _, f := range m.Linked {
		n += 128 + len(f.Name)
	}
	return n
}

// UnmarshalMessage decodes and checks a message; Data and the strings
// alias nothing of p.
func UnmarshalMessage(p []byte) (*Message, error) {
	bad := func(what string, args ...any) error {
		return fmt.Errorf("%w: "+what, append([]any{ErrBadMessage}, args...)...)
	}
	if len(p) > MaxMessageBytes {
		return nil, bad("%d bytes, cap %d", len(p), MaxMessageBytes)
	}
	if len(p) < 33 || (p[0] != formatMessage && p[0] != formatLinked) {
		return nil, bad("format")
	}
	m := &Message{}
	copy(m.ID[:], p[1:33])
	_, r := journal.Read(append([]byte{0}, p[33:]...))
	m.From = r.B()
	m.FromDevice = string(r.B())
	m.To = r.B()
	m.ToDevice = string(r.B())
	sent := r.U()
	m.Text = string(r.B())
	n := r.U()
	if r.Err == nil && n > MaxAttachments {
		return nil, bad("%d attachments, cap %d", n, MaxAttachments)
	}
	for i := uint64(0); i < n && r.Err == nil; i++ {
		m.Files = append(m.Files, Attachment{Name: string(r.B()), Data: r.B()})
	}
	if p[0] == formatLinked {
		nl := r.U()
		if r.Err == nil && (nl == 0 || n+nl > MaxAttachments) {
			return nil, bad("%d linked files beside %d, cap %d in all", nl, n, MaxAttachments)
		}
		for i := uint64(0); i < nl && r.Err == nil; i++ {
			name := string(r.B())
			if r.Err != nil {
				break
			}
			ref, rest, err := boxostore.ReadRef(r.Rest())
			if err != nil {
				return nil, bad("linked file ref: %v", err)
			}
			r = journal.Resume(rest)
			m.Linked = append(m.Linked, Attached{Name: name, Ref: ref})
		}
	}
	if err := r.End(); err != nil {
		return nil, bad("%v", err)
	}
	m.Sent = replication.Time(sent)
	switch {
	case sent > 1<<62:
		return nil, bad("sent time")
	case len(m.From) == 0 || len(m.From) > MaxIDBytes || len(m.To) == 0 || len(m.To) > MaxIDBytes:
		return nil, bad("user IDs of %d and %d bytes", len(m.From), len(m.To))
	case len(m.FromDevice) > MaxIDBytes || len(m.ToDevice) > MaxIDBytes:
		return nil, bad("device names")
	case len(m.Text) > MaxTextBytes:
		return nil, bad("text of %d bytes, cap %d", len(m.Text), MaxTextBytes)
	}
	for _, f := range m.Files {
		if len(f.Name) == 0 || len(f.Name) > MaxNameBytes {
			return nil, bad("attachment name of %d bytes", len(f.Name))
		}
	}
	for _, f := range m.Linked {
		if len(f.Name) == 0 || len(f.Name) > MaxNameBytes {
			return nil, bad("linked file name of %d bytes", len(f.Name))
		}
	}
	return m, nil
}
