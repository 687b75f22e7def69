// Package outbox is the built-in app behind "send this message or file to
// these users" (DESIGN 6). The request is a user input; the app, the same
// deterministic code on the device and on the mirror, only records it under
// an ID derived from the event (device, epoch, seq), and names it in an
// Output. On the mirror, the clone's deliverer (package deliver) turns that
// Output into one delivery per recipient clone, so the phone uploads the
// request and nothing more: the files it names are already mirrored blobs
// (the files app's), sent by reference. The deliverer reports each
// recipient device's outcome back as a network input (Status), which the
// app records beside the request, so the device sees who got it
// (Deliveries) without asking.
package outbox

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobtable"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/journal"
)

// Name is the app's registered name.
const Name = "outbox"

// Limits of one request.
const (
	Buckets       = 64
	MaxRecipients = 64
)

// OutputSend is the Output kind of a recorded request; Data is its 32-byte ID.
const OutputSend = "outbox/send"

// ErrBadOp: a payload that is not a valid request.
var ErrBadOp = errors.New("outbox: invalid request")

// Delivery states a network input records for one recipient device.
const (
	Delivered byte = 1 // the recipient's clone acknowledged the message
	Refused   byte = 2 // the recipient's clone refused it for good
)

// Register adds the outbox app to reg; the blobs its requests name live in store.
func Register(reg *replication.Registry, store *boxostore.Store) error {
	return reg.Register(Name, func() replication.App { return New(store) })
}

// Recipient is a user, or one of the user's devices.
type Recipient struct {
	User   []byte // user ID (peer ID bytes)
	Device string // empty: every device of the user
}

// Request is "send this to these users".
type Request struct {
	To    []Recipient
	Text  string
	Files []inbox.Attached // blobs the device holds (the files app's), by reference
}

// Marshal returns the request's payload: 's' nTo (user device)... text
// nFiles (name ref)...
func (q *Request) Marshal() []byte {
	r := journal.NewRec('s').U(uint64(len(q.To)))
	for _, to := range q.To {
		r = r.B(to.User).B([]byte(to.Device))
	}
	r = r.B([]byte(q.Text)).U(uint64(len(q.Files)))
	for _, f := range q.Files {
		r = boxostore.AppendRef(r.B([]byte(f.Name)), f.Ref)
	}
	return r
}

// UnmarshalRequest decodes and checks a request payload.
func UnmarshalRequest(p []byte) (*Request, error) {
	bad := func(what string, args ...any) error {
		return fmt.Errorf("%w: "+what, append([]any{ErrBadOp}, args...)...)
	}
	k, r := journal.Read(p)
	if k != 's' {
		return nil, bad("kind %#x", k)
	}
	q := &Request{}
	n := r.U()
	if r.Err == nil && (n == 0 || n > MaxRecipients) {
		return nil, bad("%d recipients, want 1 to %d", n, MaxRecipients)
	}
	for i := uint64(0); i < n && r.Err == nil; i++ {
		to := Recipient{User: r.B(), Device: string(r.B())}
		if r.Err == nil && (len(to.User) == 0 || len(to.User) > inbox.MaxIDBytes || len(to.Device) > inbox.MaxIDBytes) {
			return nil, bad("recipient")
		}
		q.To = append(q.To, to)
	}
	q.Text = string(r.B())
	nf := r.U()
	if r.Err == nil && (len(q.Text) > inbox.MaxTextBytes || nf > inbox.MaxAttachments) {
		return nil, bad("text of %d bytes, %d files", len(q.Text), nf)
	}
	for i := uint64(0); i < nf && r.Err == nil; i++ {
		name := string(r.B())
		if r.Err != nil {
			break
		}
		if len(name) == 0 || len(name) > inbox.MaxNameBytes {
			return nil, bad("file name")
		}
		ref, rest, err := boxostore.ReadRef(r.Rest())
		if err != nil {
			return nil, bad("file ref: %v", err)
		}
		r = journal.Resume(rest)
		q.Files = append(q.Files, inbox.Attached{Name: name, Ref: ref})
	}
	if err := r.End(); err != nil {
		return nil, bad("%v", err)
	}
	return q, nil
}

// ID returns the ID of the request made by event (device, epoch, seq): the
// same on the device and the mirror, unique per device and epoch.
func ID(dev replication.DeviceID, epoch, seq uint64) [32]byte {
	b := append([]byte("c2c/outbox/id/v1\x00"), dev[:]...)
	b = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(b, epoch), seq)
	return sha256.Sum256(b)
}

// Sent is a recorded request.
type Sent struct {
	ID   [32]byte
	Time replication.Time // device time of the request
	*Request
}

// App is the outbox's state. It implements replication.App.
type App struct {
	*blobtable.Table // Root, Export, Links and Import
}

var _ replication.App = (*App)(nil)

// New returns an empty outbox whose requests' blobs are in store.
func New(store *boxostore.Store) *App { return &App{blobtable.New(store, 'O', Buckets, refsOf)} }

// record: uvarint time, then the request payload.
func decodeSent(key string, v []byte) (*Sent, error) {
	id, err := hex.DecodeString(key)
	t, n := binary.Uvarint(v)
	if err != nil || len(id) != 32 || n <= 0 || t > 1<<62 {
		return nil, fmt.Errorf("%w: record %q", ErrBadOp, key)
	}
	q, err := UnmarshalRequest(v[n:])
	if err != nil {
		return nil, err
	}
	s := &Sent{Time: replication.Time(t), Request: q}
	copy(s.ID[:], id)
	return s, nil
}

func refsOf(key string, v []byte) ([]boxostore.Ref, error) {
	if strings.Contains(key, "/") {
		_, err := decodeStatus(key, v)
		return nil, err
	}
	s, err := decodeSent(key, v)
	if err != nil {
		return nil, err
	}
	refs := make([]boxostore.Ref, len(s.Files))
	for i, f := range s.Files {
		refs[i] = f.Ref
	}
	return refs, nil
}

// Get returns the request with ID id.
func (a *App) Get(id [32]byte) (*Sent, bool) {
	key := hex.EncodeToString(id[:])
	v, ok := a.Table.Get(key)
	if !ok {
		return nil, false
	}
	s, err := decodeSent(key, v)
	return s, err == nil
}

// List returns every request, in ID order.
func (a *App) List() []*Sent {
	var out []*Sent
	for _, k := range a.Keys() {
		if strings.Contains(k, "/") {
			continue
		}
		v, _ := a.Table.Get(k)
		if s, err := decodeSent(k, v); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// Status returns the network input by which the sender's clone tells its
// device what became of request id for recipient to (its index in the
// request) on device: Delivered or Refused, with a reason.
func Status(id [32]byte, to int, device string, state byte, reason string) []byte {
	r := journal.NewRec('t')
	r = append(r, id[:]...)
	return r.U(uint64(to)).B([]byte(device)).U(uint64(state)).B([]byte(reason))
}

// Delivery is one recipient device's status.
type Delivery struct {
	To     int    // the recipient's index in the request
	Device string // the device whose clone answered
	State  byte   // Delivered or Refused
	Reason string
}

// statusKey: the request's key, the recipient's index, the device.
func statusKey(id [32]byte, to int, device string) string {
	return hex.EncodeToString(id[:]) + "/" + strconv.Itoa(to) + "/" + device
}

// status record: uvarint state, reason.
func decodeStatus(key string, v []byte) (Delivery, error) {
	var d Delivery
	parts := strings.SplitN(key, "/", 3)
	to, err := strconv.Atoi(parts[min(1, len(parts)-1)])
	if len(parts) != 3 || err != nil || to < 0 || to >= MaxRecipients {
		return d, fmt.Errorf("%w: status key %q", ErrBadOp, key)
	}
	k, r := journal.Read(v)
	d = Delivery{To: to, Device: parts[2], State: byte(r.U()), Reason: string(r.B())}
	if err := r.End(); err != nil || k != 's' || (d.State != Delivered && d.State != Refused) {
		return d, fmt.Errorf("%w: status record", ErrBadOp)
	}
	return d, nil
}

// Deliveries returns the statuses recorded for request id, by recipient
// and device; a recipient with none is still pending.
func (a *App) Deliveries(id [32]byte) []Delivery {
	var out []Delivery
	prefix := hex.EncodeToString(id[:]) + "/"
	for _, k := range a.Keys() {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		v, _ := a.Table.Get(k)
		if d, err := decodeStatus(k, v); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// applyStatus records a status network input for a known request.
func (a *App) applyStatus(p []byte) error {
	k, r := journal.Read(p)
	if k != 't' || len(p) < 33 {
		return fmt.Errorf("%w: status input", ErrBadOp)
	}
	var id [32]byte
	copy(id[:], p[1:33])
	r = journal.Resume(p[33:])
	to, dev, state, reason := r.U(), string(r.B()), r.U(), string(r.B())
	if err := r.End(); err != nil || (state != uint64(Delivered) && state != uint64(Refused)) ||
		len(dev) > inbox.MaxIDBytes || len(reason) > 512 || strings.Contains(dev, "/") {
		return fmt.Errorf("%w: status input", ErrBadOp)
	}
	sent, ok := a.Get(id)
	if !ok || to >= uint64(len(sent.To)) {
		return fmt.Errorf("%w: status of an unknown request or recipient", ErrBadOp)
	}
	return a.Put(statusKey(id, int(to), dev), journal.NewRec('s').U(state).B([]byte(reason)))
}

// Apply implements replication.App: it records a user's request and names
// it in an OutputSend; a network input from the clone records a delivery
// status.
func (a *App) Apply(ev *replication.Event) ([]replication.Output, error) {
	if ev.Source != replication.User {
		return nil, a.applyStatus(ev.Payload)
	}
	if _, err := UnmarshalRequest(ev.Payload); err != nil {
		return nil, err
	}
	id := ID(ev.Device, ev.Epoch, ev.Seq)
	key := hex.EncodeToString(id[:])
	if err := a.Put(key, append(binary.AppendUvarint(nil, uint64(ev.Time)), ev.Payload...)); err != nil {
		return nil, err
	}
	return []replication.Output{{Kind: OutputSend, Data: id[:]}}, nil
}
