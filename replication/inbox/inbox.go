// Package inbox is the built-in app that holds the messages and files other
// users' clones send to this user (DESIGN 6). A message reaches the user's
// clone over the clone-to-clone delivery protocol, which relays it to the
// mirror as a network input (mirrorservice's Relay); the device receives it
// as a network input too, so the phone never sends it back. The same
// deterministic code runs on both sides.
//
// A message is kept once per (sender, message ID): a second delivery of the
// same message is a no-op on both replicas. Attachments are stored as
// boxostore blobs; the state is a blobtable of messages by that key, so a
// resync moves only the buckets and attachment blocks that differ.
package inbox

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobtable"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/journal"
)

// Name is the app's registered name.
const Name = "inbox"

// Buckets is the number of state buckets.
const Buckets = 256

// OutputMessage is the Output kind of a newly received message; Data is its key.
const OutputMessage = "inbox/message"

// ErrBadOp: a user input that is not a valid operation (or names no message).
var ErrBadOp = errors.New("inbox: invalid operation")

// Register adds the inbox app to reg; attachments go to store.
func Register(reg *replication.Registry, store *boxostore.Store) error {
	return reg.Register(Name, func() replication.App { return New(store) })
}

// App is the inbox's state. It implements replication.App.
type App struct {
	*blobtable.Table // Root, Export, Links and Import
}

var _ replication.App = (*App)(nil)

// New returns an empty inbox on store.
func New(store *boxostore.Store) *App {
	t := blobtable.New(store, 'I', Buckets, refsOf)
	t.MayLack = true // linked files are pulled when the device wants them
	return &App{t}
}

// Key returns the dedup key of a message from user from with ID id.
func Key(from []byte, id [32]byte) string {
	return hex.EncodeToString(from) + "/" + hex.EncodeToString(id[:])
}

// Delete returns the user input that removes the message under key.
func Delete(key string) []byte { return append([]byte{'x'}, key...) }

// Attached is an attachment as the inbox keeps it.
type Attached struct {
	Name string
	Ref  boxostore.Ref
}

// Item is a received message.
type Item struct {
	Key        string
	NetSeq     uint64           // its position among the device's network inputs
	Received   replication.Time // device time of its arrival
	From       []byte
	FromDevice string
	ToDevice   string
	Sent       replication.Time
	Text       string
	Files      []Attached
}

// record: 'r' netSeq received from fromDevice toDevice sent text n (name ref)...
func (it *Item) encode() []byte {
	r := journal.NewRec('r').U(it.NetSeq).U(uint64(it.Received)).B(it.From).B([]byte(it.FromDevice)).
		B([]byte(it.ToDevice)).U(uint64(it.Sent)).B([]byte(it.Text)).U(uint64(len(it.Files)))
	for _, f := range it.Files {
		r = boxostore.AppendRef(r.B([]byte(f.Name)), f.Ref)
	}
	return r
}

func decodeItem(key string, v []byte) (*Item, error) {
	k, r := journal.Read(v)
	if k != 'r' {
		return nil, fmt.Errorf("%w: record kind", ErrBadOp)
	}
	it := &Item{Key: key, NetSeq: r.U(), Received: replication.Time(r.U()), From: r.B(), FromDevice: string(r.B()),
		ToDevice: string(r.B()), Sent: replication.Time(r.U()), Text: string(r.B())}
	n := r.U()
	if r.Err != nil || n > MaxAttachments {
		return nil, fmt.Errorf("%w: record", ErrBadOp)
	}
	for i := uint64(0); i < n; i++ {
		name := string(r.B())
		if r.Err != nil {
			return nil, fmt.Errorf("%w: record: %w", ErrBadOp, r.Err)
		}
		ref, rest, err := boxostore.ReadRef(r.Rest())
		if err != nil {
			return nil, err
		}
		r = journal.Resume(rest)
		it.Files = append(it.Files, Attached{Name: name, Ref: ref})
	}
	if err := r.End(); err != nil {
		return nil, fmt.Errorf("%w: record: %w", ErrBadOp, err)
	}
	return it, nil
}

func refsOf(key string, v []byte) ([]boxostore.Ref, error) {
	it, err := decodeItem(key, v)
	if err != nil {
		return nil, err
	}
	refs := make([]boxostore.Ref, len(it.Files))
	for i, f := range it.Files {
		refs[i] = f.Ref
	}
	return refs, nil
}

// Get returns the message under key.
func (a *App) Get(key string) (*Item, bool) {
	v, ok := a.Table.Get(key)
	if !ok {
		return nil, false
	}
	it, err := decodeItem(key, v)
	return it, err == nil
}

// List returns every message, in arrival order.
func (a *App) List() []*Item {
	var out []*Item
	for _, k := range a.Keys() {
		if it, ok := a.Get(k); ok {
			out = append(out, it)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NetSeq < out[j].NetSeq })
	return out
}

// Held reports whether the store holds attachment f whole (a linked file
// is not held on the device until it is pulled).
func (a *App) Held(f Attached) bool { return a.Store.Complete(f.Ref) == nil }

// ReadFile returns an attachment's content, checked against its SHA-256
// (boxostore.ErrNotFound for a linked file not pulled yet).
func (a *App) ReadFile(f Attached) ([]byte, error) { return a.Store.Read(f.Ref) }

// Apply implements replication.App: a network input is a message (kept
// once per key); a user input deletes one.
func (a *App) Apply(ev *replication.Event) ([]replication.Output, error) {
	if ev.Source == replication.User {
		if len(ev.Payload) < 2 || ev.Payload[0] != 'x' {
			return nil, fmt.Errorf("%w: user input", ErrBadOp)
		}
		if !a.Table.Delete(string(ev.Payload[1:])) {
			return nil, fmt.Errorf("%w: no message %q", ErrBadOp, ev.Payload[1:])
		}
		return nil, nil
	}
	m, err := UnmarshalMessage(ev.Payload)
	if err != nil {
		return nil, err
	}
	key := Key(m.From, m.ID)
	if _, ok := a.Table.Get(key); ok {
		return nil, nil // delivered twice: kept once
	}
	it := &Item{Key: key, NetSeq: ev.NetSeq, Received: ev.Time, From: m.From, FromDevice: m.FromDevice,
		ToDevice: m.ToDevice, Sent: m.Sent, Text: m.Text}
	for _, f := range m.Files {
		it.Files = append(it.Files, Attached{Name: f.Name, Ref: boxostore.Ref{}})
	}
	// Linked files are recorded by reference: their blocks are not needed
	// to apply the message (the clone pulled them before it relayed it).
	it.Files = append(it.Files, m.Linked...)
	// Check the record's room before storing any blob: a refused input
	// leaves no trace but idempotent blocks.
	if err := a.Check(key, it.encode()); err != nil {
		return nil, err
	}
	for i, f := range m.Files {
		ref, err := a.Store.Add(f.Data)
		if err != nil {
			return nil, err
		}
		it.Files[i].Ref = ref
	}

	if err := a.Put(key, it.encode()); err != nil {
		return nil, err
	}
	return []replication.Output{{Kind: OutputMessage, Data: []byte(key)}}, nil
}
