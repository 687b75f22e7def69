package replication

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// MirrorConfig configures a Mirror.
type MirrorConfig struct {
	// Device is the device key that the owner certificate authorizes.
	Device DeviceID
	Epoch  uint64
	// Apps is the epoch's app set: a template's factory state for a new mirror.
	Apps *AppSet
	// Store holds payload chunks and large network inputs; nil means a new MemStore.
	Store  ChunkStore
	Params Params
	// Enrol starts with a resync: the device is not new, so its state is
	// copied once (as the chunks that differ from Apps), frozen meanwhile.
	Enrol bool
	// Now is the mirror's time at creation (for the resync retry timer).
	Now Time
}

// MirrorReady is what a Mirror accumulated since the last Advance: the
// caller sends Resync, Want and Done to the device, hands Outputs to the
// mirror's services, surfaces Notices and Replayed, then calls Advance.
type MirrorReady struct {
	Replayed []Replayed
	Outputs  []AppOutput
	// Resync asks the device to freeze and send an Offer.
	Resync *ResyncRequest
	// Want lists chunks to fetch from the device (Device.Chunk), to pass to HandleChunk.
	Want []Hash
	// Done tells the device the resync is over.
	Done    *ResyncDone
	Notices []Notice
}

// Replayed reports one replayed batch.
type Replayed struct {
	Number    uint64
	Events    int
	StateHash Hash // the mirror's, after the batch
	Match     bool // equal to the device's
	At        Time
	MaxLag    time.Duration // of the batch's oldest input
}

// AppOutput is an output of an app during replay.
type AppOutput struct {
	App     string
	Seq     uint64
	Outputs []Output
}

// NoticeKind classifies notices.
type NoticeKind uint8

const (
	// NoticeRefused: a batch, offer or chunk was refused; Err says why.
	NoticeRefused NoticeKind = iota + 1
	// NoticeDivergence: replay diverged or a batch was lost; a resync starts.
	NoticeDivergence
	// NoticeResynced: a resync finished; Resync reports it.
	NoticeResynced
)

// Notice is something the service surfaces to the owner or operator.
type Notice struct {
	Kind   NoticeKind
	Batch  uint64
	Err    error
	Resync *ResyncReport
}

// Divergence says where and why the mirror diverged. Apps are the apps
// whose roots differed after batch Batch, known once the device's offer
// names its roots there (a state mismatch within the device's last 64
// batches); the resync report's Repaired says what the resync moved.
type Divergence struct {
	Batch uint64
	Cause error // ErrStateMismatch, ErrBatchGap or ErrEnrol
	Apps  []string
}

// ResyncReport describes a finished resync: what it moved against the size
// of the whole state.
type ResyncReport struct {
	Divergence
	Number     uint64   // the device's last batch, which the mirror now holds
	Repaired   []string // the apps imported: those that differed at the offer
	Chunks     int      // state chunks fetched
	ChunkBytes int      // their bytes
	OfferBytes int      // the offer's bytes (manifests)
	StateBytes int      // the bytes of every chunk of the state
}

type queued struct {
	b   *Batch
	due Time
}

type cachedNet struct {
	app     uint32
	payload []byte // inline, or nil when ref is set
	ref     Hash
}

// Mirror is the replay server core for one device.
type Mirror struct {
	cfg  MirrorConfig
	pub  ed25519.PublicKey
	apps *AppSet
	tmax time.Duration
	syn  Time

	// What the batches taken (verified, not yet replayed) lead to.
	next     uint64 // the next batch number
	chain    Hash
	nextSeq  uint64
	lastEnd  Time
	takenNet uint64

	netBase uint64 // the net seq of net[0]
	net     []cachedNet
	relayed uint64

	queue       []queued
	wantPayload map[Hash]int

	resync *resyncState
	stats  Stats
	ready  MirrorReady
	ev     Event
}

// NewMirror returns the mirror of a device at the start of its epoch.
func NewMirror(cfg MirrorConfig) (*Mirror, error) {
	var err error
	if cfg.Params, err = cfg.Params.orDefault(); err != nil {
		return nil, err
	}
	if cfg.Apps == nil {
		return nil, fmt.Errorf("%w: mirror config needs apps", ErrParams)
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore()
	}
	m := &Mirror{cfg: cfg, pub: cfg.Device.PublicKey(), apps: cfg.Apps, tmax: cfg.Params.MaxDelay,
		syn: Time(cfg.Params.SyncInterval.Milliseconds()), next: 1, chain: GenesisChain(cfg.Device, cfg.Epoch),
		nextSeq: 1, netBase: 1, wantPayload: map[Hash]int{}}
	m.ev.Device, m.ev.Epoch = cfg.Device, cfg.Epoch
	if cfg.Enrol {
		m.startResync(cfg.Now, 0, ErrEnrol)
	}
	return m, nil
}

// Apps returns the mirror's app set.
func (m *Mirror) Apps() *AppSet { return m.apps }

// StateHash returns the mirror's current state hash.
func (m *Mirror) StateHash() Hash { return m.apps.StateHash() }

// Stats returns the counters and the lag histogram.
func (m *Mirror) Stats() Stats { return m.stats }

// Resyncing reports whether a resync runs.
func (m *Mirror) Resyncing() bool { return m.resync != nil }

// Ready returns what accumulated since the last Advance.
func (m *Mirror) Ready() MirrorReady { return m.ready }

// Advance acknowledges the last Ready.
func (m *Mirror) Advance() { m.ready = MirrorReady{} }

// Relay numbers and caches a network input for the device before the
// clone sends it there. Its payload is kept (large ones in the store) until
// a batch says the device consumed it; the device never sends it back. The
// returned Payload shares the cache's bytes: do not modify it.
func (m *Mirror) Relay(app string, payload []byte) (NetInput, error) {
	i, ok := m.apps.index(app)
	if !ok {
		return NetInput{}, fmt.Errorf("%w: %q", ErrUnknownApp, app)
	}
	if len(payload) > m.cfg.Params.MaxPayloadBytes {
		return NetInput{}, fmt.Errorf("%w: payload of %d bytes, cap %d", ErrTooLarge, len(payload), m.cfg.Params.MaxPayloadBytes)
	}
	if len(m.net) >= m.cfg.Params.MaxNetCache {
		return NetInput{}, fmt.Errorf("%w: %d inputs", ErrCacheFull, len(m.net))
	}
	p := append([]byte(nil), payload...)
	c := cachedNet{app: uint32(i), payload: p}
	if len(p) > m.cfg.Params.InlineLimit {
		ref, err := m.cfg.Store.Put(p)
		if err != nil {
			return NetInput{}, fmt.Errorf("cache network input: %w", err)
		}
		c.payload, c.ref = nil, ref
	}
	m.net = append(m.net, c)
	m.relayed++
	return NetInput{NetSeq: m.relayed, App: app, Payload: p}, nil
}

// evictNet drops the cached network inputs up to net seq through.
func (m *Mirror) evictNet(through uint64) {
	if through < m.netBase {
		return
	}
	k := min(through-m.netBase+1, uint64(len(m.net)))
	clear(m.net[:k])
	m.net = m.net[k:]
	m.netBase += k
}

func (m *Mirror) refuse(batch uint64, err error) error {
	m.stats.Refused++
	m.ready.Notices = append(m.ready.Notices, Notice{Kind: NoticeRefused, Batch: batch, Err: err})
	return err
}
