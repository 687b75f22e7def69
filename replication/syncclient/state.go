package syncclient

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/journal"
	"github.com/clone2clone/c2c/replication/syncwire"
	"github.com/ipfs/go-datastore"
)

// Namespace is the datastore prefix of the device's journal.
const Namespace = "/device-mirror"

// Journal record kinds.
const (
	recCreate = 'c' // epoch syncMs maxDelayMs start nApps name...
	recInput  = 'i' // now app payload
	recNet    = 'n' // now netSeq app payload
	recTick   = 't' // now
	recResync = 's' // now number
	recDone   = 'd' // now number
)

// Settings are what the device fixes when its mirror epoch begins.
type Settings struct {
	Epoch    uint64
	SyncMs   uint64 // t_syn_int
	MaxDelay uint64 // t_max, ms
	Start    replication.Time
	Apps     []string // sorted
}

func (c Settings) params() replication.Params { return syncwire.Params(c.SyncMs, c.MaxDelay) }

func (c Settings) record() []byte {
	r := journal.NewRec(recCreate).U(c.Epoch).U(c.SyncMs).U(c.MaxDelay).I(int64(c.Start)).U(uint64(len(c.Apps)))
	for _, a := range c.Apps {
		r = r.B([]byte(a))
	}
	return r
}

// pending is a closed batch the clone has not acknowledged, with its chunks.
type pending struct {
	number uint64
	msgs   []replication.Message
}

// state is the device core and what it has to send.
type state struct {
	key      ed25519.PrivateKey
	reg      *replication.Registry
	journal  *journal.Journal
	set      Settings
	d        *replication.Device
	unacked  []pending
	hashAt   map[uint64]replication.Hash // the device's state hash after each batch
	last     replication.Time            // the latest time handed to the core
	resyncAt uint64                      // the batch a running resync was asked for
}

func (s *state) create(set Settings) error {
	apps, err := replication.NewAppSet(s.reg, set.Apps...)
	if err != nil {
		return err
	}
	d, err := replication.NewDevice(replication.DeviceConfig{Key: s.key, Epoch: set.Epoch, Apps: apps, Start: set.Start, Params: set.params()})
	if err != nil {
		return err
	}
	s.set, s.d, s.last = set, d, set.Start
	s.hashAt = map[uint64]replication.Hash{0: d.StateHash()}
	return nil
}

// take collects what the core closed into the unacked list and returns the
// messages to send.
func (s *state) take() []replication.Message {
	rd := s.d.Ready()
	s.d.Advance()
	var out []replication.Message
	i := 0
	for _, b := range rd.Batches {
		for i < len(rd.Send) && rd.Send[i].Kind != replication.MsgBatch {
			out = append(out, rd.Send[i]) // an offer before the batch
			i++
		}
		p := pending{number: b.Number, msgs: []replication.Message{rd.Send[i]}}
		for i++; i < len(rd.Send) && rd.Send[i].Kind == replication.MsgChunk; i++ {
			p.msgs = append(p.msgs, rd.Send[i])
		}
		s.unacked = append(s.unacked, p)
		s.hashAt[b.Number] = b.StateHash
		out = append(out, p.msgs...)
	}
	return append(out, rd.Send[i:]...)
}

// ack drops the batches through n.
func (s *state) ack(n uint64) {
	i := 0
	for i < len(s.unacked) && s.unacked[i].number <= n {
		i++
	}
	s.unacked = s.unacked[i:]
	for k := range s.hashAt {
		if k+256 < n { // keep recent hashes for Replayed reports
			delete(s.hashAt, k)
		}
	}
}

// netOK reports whether a Network call that returned err was recorded by the core.
func netOK(err error) bool {
	return !errors.Is(err, replication.ErrFrozen) && !errors.Is(err, replication.ErrNetOrder) &&
		!errors.Is(err, replication.ErrUnknownApp)
}

// apply replays one journal record.
func (s *state) apply(rec []byte) error {
	k, r := journal.Read(rec)
	if k == recCreate {
		set := Settings{Epoch: r.U(), SyncMs: r.U(), MaxDelay: r.U(), Start: replication.Time(r.I())}
		n := r.U()
		for i := uint64(0); i < n && r.Err == nil && i < replication.MaxApps; i++ {
			set.Apps = append(set.Apps, string(r.B()))
		}
		if err := r.End(); err != nil {
			return err
		}
		return s.create(set)
	}
	if s.d == nil {
		return fmt.Errorf("%w: record %q before the create record", journal.ErrCorrupt, k)
	}
	now := replication.Time(r.I())
	s.last = max(s.last, now)
	var err error
	switch k {
	case recInput:
		app, payload := string(r.B()), r.B()
		if err := r.End(); err != nil {
			return err
		}
		_, err = s.d.Input(now, app, payload)
	case recNet:
		seq, app, payload := r.U(), string(r.B()), r.B()
		if err := r.End(); err != nil {
			return err
		}
		if _, err := s.d.Network(now, replication.NetInput{NetSeq: seq, App: app, Payload: payload}); !netOK(err) {
			return fmt.Errorf("%w: a logged network input now fails: %w", journal.ErrCorrupt, err)
		}
	case recTick:
		if err := r.End(); err != nil {
			return err
		}
		s.d.Tick(now)
	case recResync:
		n := r.U()
		if err := r.End(); err != nil {
			return err
		}
		s.resyncAt = n
		err = s.d.HandleResync(now, replication.ResyncRequest{Number: n})
	case recDone:
		n := r.U()
		if err := r.End(); err != nil {
			return err
		}
		if err = s.d.HandleDone(now, replication.ResyncDone{Number: n}); err == nil {
			s.ack(n)
		}
	default:
		return fmt.Errorf("%w: record kind %q", journal.ErrCorrupt, k)
	}
	if err != nil {
		return fmt.Errorf("%w: a logged call now fails: %w", journal.ErrCorrupt, err)
	}
	s.take()
	return nil
}

// open recovers the device's journal from ds, or starts it with set.
func open(ctx context.Context, ds datastore.Batching, reg *replication.Registry, key ed25519.PrivateKey, set Settings) (*state, error) {
	j, err := journal.Open(ctx, ds, Namespace)
	if err != nil {
		return nil, err
	}
	s := &state{key: key, reg: reg, journal: j}
	if err := j.Replay(ctx, func(_ uint64, rec []byte) error { return s.apply(rec) }); err != nil {
		return nil, err
	}
	if s.d != nil {
		return s, nil
	}
	if err := s.create(set); err != nil {
		return nil, err
	}
	if err := j.Append(ctx, set.record()); err != nil {
		return nil, err
	}
	return s, nil
}
