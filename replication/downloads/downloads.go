// Package downloads is the built-in app behind bulk download caching (the
// mirror paper's section 5.1.1, DESIGN 6): "download this URL, and pull it
// to the phone now, on Wi-Fi, on charge or by hand". The same
// deterministic code runs on the device and on the mirror.
//
// The request is a user input; the app records it under an ID derived
// from the event (device, epoch, seq) and names it in an OutputFetch. On
// the mirror, the clone's downloader (package downloader) hears that
// Output, fetches the URL into the mirror's blob store, scans it, and
// relays the network input "file cached" (Cached: the file's Ref and the
// verdict, or why it failed) to the device, which records it too. The
// device then pulls the blob from its clone when its policy says so,
// verifying every block, and records the user input Pulled; replaying
// Pulled on the mirror reads the file the mirror cached, so the bytes
// never cross the device link again.
//
// Per download the state is requested, cached (or failed) and pulled. A
// record names its blob for a resync only once it is pulled: before that
// the device does not hold it, and the mirror's copy is not part of the
// state the two sides compare.
package downloads

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobtable"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/journal"
)

// Name is the app's registered name.
const Name = "downloads"

// Buckets is the number of state buckets.
const Buckets = 64

// Output kinds; Data is the download's 32-byte ID.
const (
	// OutputFetch: a download was requested (or retried): the clone fetches it.
	OutputFetch = "downloads/fetch"
	// OutputCached: the clone's "file cached" (or failed) arrived.
	OutputCached = "downloads/cached"
)

// Status is where a download stands.
type Status uint8

const (
	StatusRequested Status = 1 // the clone is fetching it
	StatusCached    Status = 2 // the clone holds it; the device may pull it
	StatusFailed    Status = 3 // the clone gave up (Item.Reason says why)
	StatusPulled    Status = 4 // the device holds it
)

func (s Status) String() string {
	switch s {
	case StatusRequested:
		return "requested"
	case StatusCached:
		return "cached"
	case StatusFailed:
		return "failed"
	case StatusPulled:
		return "pulled"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Register adds the downloads app to reg; pulled files are in store.
func Register(reg *replication.Registry, store *boxostore.Store) error {
	return reg.Register(Name, func() replication.App { return New(store) })
}

// ID returns the ID of the download requested by event (device, epoch,
// seq): the same on the device and the mirror.
func ID(dev replication.DeviceID, epoch, seq uint64) [32]byte {
	b := append([]byte("c2c/downloads/id/v1\x00"), dev[:]...)
	b = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(b, epoch), seq)
	return sha256.Sum256(b)
}

// Item is one download.
type Item struct {
	ID        [32]byte
	URL       string
	When      When
	Status    Status
	Requested replication.Time // device time of the request
	// Tries counts the fetches asked for: 1, then one more per Retry. The
	// clone keeps its progress per (ID, Tries).
	Tries    uint64
	Ref      boxostore.Ref // set once cached
	Verdict  Verdict
	Reason   string           // set if failed
	CachedAt replication.Time // device time "file cached" was consumed
	PulledAt replication.Time
}

// record: 'r' requested url when status tries ref(B, empty if none)
// infected name by dbVersion reason cachedAt pulledAt.
func (it *Item) encode() []byte {
	var ref []byte
	if it.Ref.CID.Defined() {
		ref = boxostore.AppendRef(nil, it.Ref)
	}
	inf := uint64(0)
	if it.Verdict.Infected {
		inf = 1
	}
	return journal.NewRec('r').U(uint64(it.Requested)).B([]byte(it.URL)).U(uint64(it.When)).U(uint64(it.Status)).
		U(it.Tries).B(ref).U(inf).B([]byte(it.Verdict.Name)).B([]byte(it.Verdict.By)).U(it.Verdict.DBVersion).
		B([]byte(it.Reason)).U(uint64(it.CachedAt)).U(uint64(it.PulledAt))
}

func decodeItem(key string, v []byte) (*Item, error) {
	id, err := hex.DecodeString(key)
	if err != nil || len(id) != 32 {
		return nil, bad("record key %q", key)
	}
	k, r := journal.Read(v)
	it := &Item{ID: [32]byte(id), Requested: replication.Time(r.U()), URL: string(r.B()), When: When(r.U()),
		Status: Status(r.U()), Tries: r.U()}
	ref := r.B()
	inf := r.U()
	it.Verdict = Verdict{Infected: inf == 1, Name: string(r.B()), By: string(r.B()), DBVersion: r.U()}
	it.Reason = string(r.B())
	it.CachedAt, it.PulledAt = replication.Time(r.U()), replication.Time(r.U())
	if err := r.End(); err != nil || k != 'r' {
		return nil, bad("record %q: %v", key, err)
	}
	if it.Status < StatusRequested || it.Status > StatusPulled || it.When < Now || it.When > Manual || inf > 1 {
		return nil, bad("record %q: status %d, policy %d", key, it.Status, it.When)
	}
	if err := CheckURL(it.URL); err != nil {
		return nil, err
	}
	if hasRef := it.Status == StatusCached || it.Status == StatusPulled; hasRef != (len(ref) > 0) {
		return nil, bad("record %q: %v with %d ref bytes", key, it.Status, len(ref))
	}
	if len(ref) > 0 {
		if it.Ref, ref, err = boxostore.ReadRef(ref); err != nil || len(ref) != 0 {
			return nil, bad("record %q: ref: %v", key, err)
		}
	}
	return it, nil
}

// refsOf names a download's blob once the device pulled it: before that
// the device does not hold it.
func refsOf(key string, v []byte) ([]boxostore.Ref, error) {
	it, err := decodeItem(key, v)
	if err != nil || it.Status != StatusPulled {
		return nil, err
	}
	return []boxostore.Ref{it.Ref}, nil
}

// App is the downloads app's state. It implements replication.App.
type App struct {
	*blobtable.Table // Root, Export, Links and Import
}

var _ replication.App = (*App)(nil)

// New returns an empty download list whose pulled files are in store.
func New(store *boxostore.Store) *App { return &App{blobtable.New(store, 'D', Buckets, refsOf)} }

// Get returns download id.
func (a *App) Get(id [32]byte) (*Item, bool) {
	key := hex.EncodeToString(id[:])
	v, ok := a.Table.Get(key)
	if !ok {
		return nil, false
	}
	it, err := decodeItem(key, v)
	return it, err == nil
}

// List returns every download, oldest request first.
func (a *App) List() []*Item {
	var out []*Item
	for _, k := range a.Keys() {
		v, _ := a.Table.Get(k)
		if it, err := decodeItem(k, v); err == nil {
			out = append(out, it)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Requested < out[j].Requested })
	return out
}

// ReadFile returns a pulled (or, on the mirror, cached) file's content,
// checked against its SHA-256.
func (a *App) ReadFile(it *Item) ([]byte, error) {
	if it.Status != StatusCached && it.Status != StatusPulled {
		return nil, bad("download %x is %v", it.ID[:4], it.Status)
	}
	return a.Store.Read(it.Ref)
}

func (a *App) put(it *Item) error { return a.Put(hex.EncodeToString(it.ID[:]), it.encode()) }

func out(kind string, id [32]byte) []replication.Output {
	return []replication.Output{{Kind: kind, Data: append([]byte(nil), id[:]...)}}
}

// Apply implements replication.App.
func (a *App) Apply(ev *replication.Event) ([]replication.Output, error) {
	if ev.Source == replication.Network {
		return a.cached(ev)
	}
	op, err := parseUser(ev.Payload)
	if err != nil {
		return nil, err
	}
	if op.kind == opRequest {
		it := &Item{ID: ID(ev.Device, ev.Epoch, ev.Seq), URL: op.url, When: op.when, Status: StatusRequested, Requested: ev.Time, Tries: 1}
		if err := a.put(it); err != nil {
			return nil, err
		}
		return out(OutputFetch, it.ID), nil
	}
	it, ok := a.Get(op.id)
	if !ok {
		return nil, bad("no download %x", op.id[:4])
	}
	switch op.kind {
	case opForget:
		a.Delete(hex.EncodeToString(op.id[:]))
		return nil, nil
	case opRetry:
		if it.Status != StatusFailed {
			return nil, bad("download %x is %v, not failed", op.id[:4], it.Status)
		}
		it.Status, it.Reason = StatusRequested, ""
		it.Tries++
		if err := a.put(it); err != nil {
			return nil, err
		}
		return out(OutputFetch, it.ID), nil
	}
	// opPulled: the store must hold every block of the file (each checked
	// against its hash when stored; the device's pull also checked the
	// whole against the SHA-256); on the mirror it is the copy the clone
	// cached.
	if it.Status != StatusCached {
		return nil, bad("download %x is %v, not cached", op.id[:4], it.Status)
	}
	if err := a.Store.Complete(it.Ref); err != nil {
		return nil, fmt.Errorf("%w: download %x: %w", ErrBadOp, op.id[:4], err)
	}
	it.Status, it.PulledAt = StatusPulled, ev.Time
	return nil, a.put(it)
}

// cached applies "file cached": a second copy, one for an earlier try, or
// one for a download forgotten meanwhile, is a no-op.
func (a *App) cached(ev *replication.Event) ([]replication.Output, error) {
	c, err := UnmarshalCached(ev.Payload)
	if err != nil {
		return nil, err
	}
	it, ok := a.Get(c.ID)
	if !ok || it.Status != StatusRequested || c.Try != it.Tries {
		return nil, nil
	}
	it.CachedAt = ev.Time
	if c.Failed() {
		it.Status, it.Reason = StatusFailed, c.Reason
	} else {
		it.Status, it.Ref, it.Verdict = StatusCached, c.Ref, c.Verdict
	}
	if err := a.put(it); err != nil {
		return nil, err
	}
	return out(OutputCached, it.ID), nil
}
