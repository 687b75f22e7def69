package replication

import (
	"crypto/ed25519"
	"fmt"
)

// DeviceConfig configures a Device.
type DeviceConfig struct {
	// Key is the device key, the one its owner certificate authorizes.
	Key   ed25519.PrivateKey
	Epoch uint64
	// Apps is the epoch's app set in its current state (a template's, at enrolment).
	Apps *AppSet
	// Store keeps payloads too large to travel inline; nil means a new MemStore.
	Store ChunkStore
	// Start opens the first batch window.
	Start  Time
	Params Params
}

// MsgKind says what a Message carries.
type MsgKind uint8

const (
	// MsgBatch: an encoded Batch.
	MsgBatch MsgKind = iota + 1
	// MsgChunk: a payload chunk of the batch sent just before it.
	MsgChunk
	// MsgOffer: an encoded Offer.
	MsgOffer
)

// Message is one thing the device sends its mirror, in order.
type Message struct {
	Kind MsgKind
	Data []byte
}

// DeviceReady is what a Device accumulated since the last Advance: the
// caller sends Send to the mirror, in order, then calls Advance.
type DeviceReady struct {
	Send []Message
	// Batches are the batches closed (also in Send, encoded).
	Batches []*Batch
}

// Device is the sync client core: it applies the device's inputs to its
// apps, records them, and closes a signed batch every t_syn_int.
type Device struct {
	cfg     DeviceConfig
	id      DeviceID
	apps    *AppSet
	syn     Time // t_syn_int in ms
	number  uint64
	chain   Hash
	nextSeq uint64
	lastNet uint64
	clock   Time // the latest time seen: device time never goes back
	start   Time // the open window's start
	lastEnd Time // the end of the last batch closed

	cur    Batch
	arena  []byte
	chunks [][]byte

	// roots keeps every app's root after each of the last rootHistory
	// batches, so an offer can say which apps differed at a divergence.
	roots map[uint64][]Hash

	frozen bool
	offer  *Offer
	export *MemStore
	ready  DeviceReady
}

// NewDevice returns the device core at the start of its epoch.
func NewDevice(cfg DeviceConfig) (*Device, error) {
	var err error
	if cfg.Params, err = cfg.Params.orDefault(); err != nil {
		return nil, err
	}
	if len(cfg.Key) != ed25519.PrivateKeySize || cfg.Apps == nil {
		return nil, fmt.Errorf("%w: device config needs a key and apps", ErrParams)
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore()
	}
	id, _ := DeviceIDOf(cfg.Key.Public().(ed25519.PublicKey))
	d := &Device{cfg: cfg, id: id, apps: cfg.Apps, syn: Time(cfg.Params.SyncInterval.Milliseconds()),
		chain: GenesisChain(id, cfg.Epoch), nextSeq: 1, clock: cfg.Start, start: cfg.Start, roots: map[uint64][]Hash{}}
	d.cur.FirstSeq = 1
	return d, nil
}

// ID returns the device's ID.
func (d *Device) ID() DeviceID { return d.id }

// Apps returns the device's app set.
func (d *Device) Apps() *AppSet { return d.apps }

// Number returns the number of the last batch closed.
func (d *Device) Number() uint64 { return d.number }

// Frozen reports whether a resync holds input.
func (d *Device) Frozen() bool { return d.frozen }

// StateHash returns the device's current state hash.
func (d *Device) StateHash() Hash { return d.apps.StateHash() }

// Input applies a user input at time now and records it for the next
// batch. An input the app rejects is not recorded (the app left its state
// unchanged, so the mirror need not see it).
func (d *Device) Input(now Time, app string, payload []byte) ([]Output, error) {
	if d.frozen {
		return nil, ErrFrozen
	}
	i, ok := d.apps.index(app)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownApp, app)
	}
	if len(payload) > d.cfg.Params.MaxPayloadBytes {
		return nil, fmt.Errorf("%w: payload of %d bytes, cap %d", ErrTooLarge, len(payload), d.cfg.Params.MaxPayloadBytes)
	}
	t := d.advance(now)
	ev := Event{Device: d.id, Epoch: d.cfg.Epoch, Seq: d.nextSeq, Time: t, Source: User, App: app, Payload: payload}
	var chunk []byte
	if len(payload) > d.cfg.Params.InlineLimit {
		// Stored before the app sees it: a store failure must not leave an
		// applied input unrecorded. (A rejected input leaves a stray chunk.)
		chunk = append([]byte(nil), payload...)
		ref, err := d.cfg.Store.Put(chunk)
		if err != nil {
			return nil, fmt.Errorf("store payload: %w", err)
		}
		ev.Ref = ref
	}
	outs, err := d.apps.apps[i].Apply(&ev)
	if err != nil {
		return nil, err
	}
	in := Input{App: uint32(i), Time: t, Ref: ev.Ref}
	if chunk == nil {
		start := len(d.arena)
		d.arena = append(d.arena, payload...)
		in.Payload = d.arena[start:len(d.arena):len(d.arena)]
	} else {
		in.Size = len(chunk)
		d.chunks = append(d.chunks, chunk)
	}
	d.cur.User = append(d.cur.User, in)
	d.nextSeq++
	return outs, nil
}

// Network consumes a network input that the clone relayed, at time now.
// It is recorded by position even when the app rejects it.
func (d *Device) Network(now Time, in NetInput) ([]Output, error) {
	if d.frozen {
		return nil, ErrFrozen
	}
	if in.NetSeq <= d.lastNet {
		return nil, fmt.Errorf("%w: net seq %d after %d", ErrNetOrder, in.NetSeq, d.lastNet)
	}
	i, ok := d.apps.index(in.App)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownApp, in.App)
	}
	t := d.advance(now)
	ev := Event{Device: d.id, Epoch: d.cfg.Epoch, Seq: d.nextSeq, Time: t, Source: Network,
		App: in.App, NetSeq: in.NetSeq, Payload: in.Payload}
	if len(in.Payload) > d.cfg.Params.InlineLimit {
		ev.Ref = HashChunk(in.Payload)
	}
	outs, err := d.apps.apps[i].Apply(&ev)
	d.cur.Net = append(d.cur.Net, NetUse{NetSeq: in.NetSeq, After: len(d.cur.User), Time: t})
	d.lastNet = in.NetSeq
	d.nextSeq++
	return outs, err
}

// Tick closes the open batch when its window has passed.
func (d *Device) Tick(now Time) {
	if !d.frozen {
		d.advance(now)
	}
}

// advance moves the device clock to now (never back), closes the window if
// it has passed or the batch is full, and returns the time for an input.
func (d *Device) advance(now Time) Time {
	t := max(now, d.clock)
	if end := d.start + d.syn; t >= end {
		d.close(end)
		d.start += d.syn * ((t - d.start) / d.syn)
	}
	if d.cur.Len() >= d.cfg.Params.MaxBatchInputs {
		d.close(t + 1) // early: t < start+syn, so the window stays within t_syn_int
		d.start = t + 1
	}
	t = max(t, d.start)
	d.clock = t
	return t
}

// close seals the open batch (if it holds any input) with window end end.
func (d *Device) close(end Time) {
	if d.cur.Len() == 0 {
		return
	}
	roots := d.apps.Roots()
	b := &Batch{Device: d.id, Epoch: d.cfg.Epoch, Number: d.number + 1, Start: d.start, End: end,
		FirstSeq: d.cur.FirstSeq, User: d.cur.User, Net: d.cur.Net, StateHash: StateHash(d.apps.names, roots)}
	b.seal(d.cfg.Key, d.chain)
	d.roots[b.Number] = roots
	delete(d.roots, b.Number-rootHistory)
	d.number, d.chain, d.lastEnd = b.Number, b.Chain, end
	d.ready.Batches = append(d.ready.Batches, b)
	d.ready.Send = append(d.ready.Send, Message{Kind: MsgBatch, Data: b.raw})
	for _, c := range d.chunks {
		d.ready.Send = append(d.ready.Send, Message{Kind: MsgChunk, Data: c})
	}
	d.cur = Batch{FirstSeq: d.nextSeq}
	d.arena, d.chunks = nil, nil
}

// Ready returns what accumulated since the last Advance.
func (d *Device) Ready() DeviceReady { return d.ready }

// Advance acknowledges the last Ready.
func (d *Device) Advance() { d.ready = DeviceReady{} }
