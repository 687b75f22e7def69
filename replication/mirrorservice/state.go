package mirrorservice

import (
	"context"
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/journal"
	"github.com/clone2clone/c2c/replication/syncwire"
	"github.com/ipfs/go-datastore"
)

// Journal record kinds.
const (
	recCreate = 'c' // epoch syncMs maxDelayMs nApps name...
	recRelay  = 'r' // app payload
	recBatch  = 'b' // now bytes
	recChunk  = 'k' // now bytes
	recOffer  = 'o' // now bytes
	recTick   = 't' // now
)

// Namespace is the datastore prefix of the mirror's journal.
const Namespace = "/mirror"

// Meta is what the device fixed at the mirror's creation: its epoch, apps
// and timing.
type Meta struct {
	Epoch    uint64
	SyncMs   uint64
	MaxDelay uint64
	Apps     []string
}

// Params returns the core's Params for m.
func (m Meta) Params() replication.Params { return syncwire.Params(m.SyncMs, m.MaxDelay) }

func (m Meta) record() []byte {
	r := journal.NewRec(recCreate).U(m.Epoch).U(m.SyncMs).U(m.MaxDelay).U(uint64(len(m.Apps)))
	for _, a := range m.Apps {
		r = r.B([]byte(a))
	}
	return r
}

// held is a network input relayed before the device first said Hello: it
// waits for the mirror to exist.
type held struct {
	app     string
	payload []byte
}

// state is the mirror and what leads to it; the loop owns it, Load builds it offline.
type state struct {
	reg     *replication.Registry
	device  replication.DeviceID
	journal *journal.Journal
	meta    *Meta
	m       *replication.Mirror
	held    []held
	dropped int // held inputs for apps the device did not name
}

// create makes the mirror from meta and feeds it the held inputs.
func (s *state) create(meta Meta, now replication.Time) error {
	apps, err := replication.NewAppSet(s.reg, meta.Apps...)
	if err != nil {
		return err
	}
	m, err := replication.NewMirror(replication.MirrorConfig{Device: s.device, Epoch: meta.Epoch, Apps: apps,
		Params: meta.Params(), Now: now})
	if err != nil {
		return err
	}
	s.meta, s.m = &meta, m
	for _, h := range s.held {
		if _, err := m.Relay(h.app, h.payload); err != nil {
			s.dropped++
		}
	}
	s.held = nil
	return nil
}

// logged reports whether a call that returned err changed the mirror (so
// its record must be kept): it passed verification.
func logged(err error) bool {
	return err == nil || errors.Is(err, replication.ErrBatchGap) || errors.Is(err, replication.ErrImport)
}

// apply replays one journal record.
func (s *state) apply(rec []byte) error {
	k, r := journal.Read(rec)
	if k == recCreate {
		meta := Meta{Epoch: r.U(), SyncMs: r.U(), MaxDelay: r.U()}
		n := r.U()
		for i := uint64(0); i < n && r.Err == nil && i < replication.MaxApps; i++ {
			meta.Apps = append(meta.Apps, string(r.B()))
		}
		if err := r.End(); err != nil {
			return err
		}
		if s.m != nil {
			return fmt.Errorf("%w: second create record", journal.ErrCorrupt)
		}
		return s.create(meta, 0)
	}
	if k == recRelay {
		app, payload := string(r.B()), r.B()
		if err := r.End(); err != nil {
			return err
		}
		if s.m == nil {
			s.held = append(s.held, held{app, payload})
			return nil
		}
		_, err := s.m.Relay(app, payload)
		return err
	}
	if s.m == nil {
		return fmt.Errorf("%w: record %q before the mirror exists", journal.ErrCorrupt, k)
	}
	now := replication.Time(r.I())
	var data []byte
	if k != recTick {
		data = r.B()
	}
	if err := r.End(); err != nil {
		return err
	}
	var err error
	switch k {
	case recBatch:
		err = s.m.HandleBatch(now, data)
	case recChunk:
		err = s.m.HandleChunk(now, data)
	case recOffer:
		err = s.m.HandleOffer(now, data)
	case recTick:
		s.m.Tick(now)
	default:
		return fmt.Errorf("%w: record kind %q", journal.ErrCorrupt, k)
	}
	if !logged(err) {
		return fmt.Errorf("%w: a logged call now fails: %w", journal.ErrCorrupt, err)
	}
	return nil
}

// recover opens the journal under ds and replays it.
func recoverState(ctx context.Context, ds datastore.Batching, reg *replication.Registry, dev replication.DeviceID) (*state, error) {
	j, err := journal.Open(ctx, ds, Namespace)
	if err != nil {
		return nil, err
	}
	s := &state{reg: reg, device: dev, journal: j}
	err = j.Replay(ctx, func(_ uint64, rec []byte) error {
		if err := s.apply(rec); err != nil {
			return err
		}
		if s.m != nil {
			s.m.Advance() // what it caused went out before the crash, or is repeated on reconnect
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Snapshot is the operator's view of a mirror.
type Snapshot struct {
	Meta      *Meta // nil until the device first said Hello
	Position  replication.MirrorPosition
	StateHash replication.Hash
	Stats     replication.Stats
	Resyncing bool
	Held      int // network inputs waiting for the mirror to exist
	Records   uint64
	// Apps is the mirror's app set: set by Load only (the server's is
	// owned by its loop: use Server.View).
	Apps *replication.AppSet
}

func (s *state) snapshot() Snapshot {
	snap := Snapshot{Meta: s.meta, Held: len(s.held), Records: s.journal.Len()}
	if s.m != nil {
		snap.Position, snap.StateHash, snap.Stats, snap.Resyncing = s.m.Position(), s.m.StateHash(), s.m.Stats(), s.m.Resyncing()
	}
	return snap
}

// Load rebuilds the mirror kept in ds offline (the clone need not run:
// c2c mirror show).
func Load(ctx context.Context, ds datastore.Batching, reg *replication.Registry, dev replication.DeviceID) (Snapshot, error) {
	s, err := recoverState(ctx, ds, reg, dev)
	if err != nil {
		return Snapshot{}, err
	}
	snap := s.snapshot()
	if s.m != nil {
		snap.Apps = s.m.Apps()
	}
	return snap, nil
}
