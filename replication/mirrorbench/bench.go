// Package mirrorbench measures the mirror's pure core for c2c bench
// mirror: sync bytes per event against the payload and against copying
// each changed item, replay throughput, the replay lag in virtual time
// against its bound t_syn_int + t_max, and the device's time per batch.
//
// Everything runs on the replication core in one goroutine, in virtual
// time (link delays drawn uniformly up to t_max from a seeded source), so
// the figures do not depend on the machine's load; only the two
// throughput figures are timed.
package mirrorbench

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/notes"
)

// Lag is one t_syn_int's replay lag.
type Lag struct {
	SyncMs int64 `json:"t_syn_int_ms"`
	MaxMs  int64 `json:"t_max_ms"`
	P50    int64 `json:"p50_ms"`
	P99    int64 `json:"p99_ms"`
	Max    int64 `json:"max_ms"`
}

// Result is what c2c bench mirror --json prints.
type Result struct {
	BytesPerEvent        float64            `json:"bytes_per_event"`
	PayloadBytesPerEvent float64            `json:"payload_bytes_per_event"`
	BytesVsReplication   map[string]float64 `json:"bytes_vs_replication"`
	ReplayEventsPerS     float64            `json:"replay_events_per_s"`
	Lag                  []Lag              `json:"lag"`
	DeviceCPUUsPerBatch  float64            `json:"device_cpu_us_per_batch"`
	Notes                []string           `json:"notes"`
}

const (
	noteBytes  = 10 << 10 // the note typed keystroke by keystroke
	keyGapMs   = 200      // 5 keystrokes a second
	messages   = 100
	attachment = 100 << 10
	frameBytes = 4 // a syncwire frame's length prefix and kind byte, at most, for a batch
)

type pair struct {
	d      *replication.Device
	m      *replication.Mirror
	rng    *rand.Rand
	tmaxMs int64
	// measured
	syncBytes  int
	deviceTime time.Duration
	batches    int
}

func newPair(seed uint64, syn, tmax time.Duration) (*pair, error) {
	seedBytes := make([]byte, ed25519.SeedSize)
	binary.BigEndian.PutUint64(seedBytes, seed)
	key := ed25519.NewKeyFromSeed(seedBytes)
	id, _ := replication.DeviceIDOf(key.Public().(ed25519.PublicKey))
	p := replication.DefaultParams()
	p.SyncInterval, p.MaxDelay = syn, tmax
	// Each side keeps its blobs in its own store, as phone and clone do.
	ds, err := appSet()
	if err != nil {
		return nil, err
	}
	ms, err := appSet()
	if err != nil {
		return nil, err
	}
	d, err := replication.NewDevice(replication.DeviceConfig{Key: key, Epoch: 1, Apps: ds, Start: 0, Params: p})
	if err != nil {
		return nil, err
	}
	m, err := replication.NewMirror(replication.MirrorConfig{Device: id, Epoch: 1, Apps: ms, Params: p})
	if err != nil {
		return nil, err
	}
	return &pair{d: d, m: m, rng: rand.New(rand.NewPCG(seed, 1)), tmaxMs: tmax.Milliseconds()}, nil
}

// appSet is the benchmark's apps (notes and inbox) on a store of their own.
func appSet() (*replication.AppSet, error) {
	reg := replication.NewRegistry()
	if err := notes.Register(reg); err != nil {
		return nil, err
	}
	if err := inbox.Register(reg, boxostore.NewMem()); err != nil {
		return nil, err
	}
	return replication.NewAppSet(reg, notes.Name, inbox.Name)
}

// deliver sends what the device closed over a link delayed uniformly up to
// t_max, and replays each batch when it is due (virtual time).
func (p *pair) deliver() error {
	rd := p.d.Ready()
	p.d.Advance()
	for _, msg := range rd.Send {
		p.syncBytes += len(msg.Data) + frameBytes
	}
	for _, b := range rd.Batches {
		at := b.End + replication.Time(p.rng.Int64N(p.tmaxMs+1))
		if err := p.m.HandleBatch(at, b.Marshal()); err != nil {
			return err
		}
		due, _ := p.m.NextDue()
		p.m.Tick(max(due, at))
		for _, r := range p.m.Ready().Replayed {
			if !r.Match {
				return fmt.Errorf("batch %d: state hash mismatch", r.Number)
			}
		}
		p.m.Advance()
		p.batches++
	}
	return nil
}

// typeNote types the 10 KB note keystroke by keystroke; it returns the
// events, their payload bytes and what copying the changed note after each
// batch would have cost.
func (p *pair) typeNote() (events, payload, copyBytes int, err error) {
	// The device's cost is the CPU time of its core's calls on this thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	now := replication.Time(0)
	last := uint64(0)
	for i := range noteBytes {
		in := notes.Insert("note", i, []byte{'a' + byte(i%26)})
		t0 := threadCPU()
		_, err = p.d.Input(now, notes.Name, in)
		p.deviceTime += threadCPU() - t0
		if err != nil {
			return
		}
		events++
		payload += len(in)
		if n := p.d.Number(); n != last { // a batch closed before this keystroke
			copyBytes += int(n-last) * (i + len("note"))
			last = n
		}
		if err = p.deliver(); err != nil {
			return
		}
		now += keyGapMs
	}
	t0 := threadCPU()
	p.d.Tick(now + replication.Time(time.Hour.Milliseconds()))
	p.deviceTime += threadCPU() - t0
	copyBytes += int(p.d.Number()-last) * (noteBytes + len("note"))
	err = p.deliver()
	return
}

// inbox receives 100 messages with 100 KB attachments in the inbox app,
// as network inputs, one every 2 s; it returns what copying each message
// (with its attachment) would have cost, and checks that the mirror holds
// every message.
func (p *pair) inbox() (copyBytes int, err error) {
	now := replication.Time(0)
	att := make([]byte, attachment)
	for i := range messages {
		att[0], att[1] = byte(i), byte(i>>8)
		m := inbox.Message{ID: [32]byte{byte(i), byte(i >> 8)}, From: []byte("sender"), FromDevice: "phone",
			To: []byte("me"), Sent: now, Text: fmt.Sprintf("message %d", i), Files: []inbox.Attachment{{Name: "photo.jpg", Data: att}}}
		body := m.Marshal()
		in, err := p.m.Relay(inbox.Name, body)
		if err != nil {
			return 0, err
		}
		if _, err := p.d.Network(now, in); err != nil {
			return 0, err
		}
		copyBytes += len(body)
		if err := p.deliver(); err != nil {
			return 0, err
		}
		now += 2000
	}
	p.d.Tick(now + replication.Time(time.Hour.Milliseconds()))
	if err := p.deliver(); err != nil {
		return 0, err
	}
	a, _ := p.m.Apps().App(inbox.Name)
	if n := len(a.(*inbox.App).List()); n != messages {
		return 0, fmt.Errorf("the mirror's inbox holds %d of %d messages", n, messages)
	}
	return copyBytes, nil
}

// Run measures everything.
func Run() (Result, error) {
	res := Result{BytesVsReplication: map[string]float64{}}
	tmax := 100 * time.Millisecond
	for _, syn := range []time.Duration{time.Second, 10 * time.Second, 60 * time.Second} {
		p, err := newPair(uint64(syn.Milliseconds()), syn, tmax)
		if err != nil {
			return res, err
		}
		events, payload, copyBytes, err := p.typeNote()
		if err != nil {
			return res, fmt.Errorf("typing at t_syn_int %v: %w", syn, err)
		}
		st := p.m.Stats()
		res.Lag = append(res.Lag, Lag{SyncMs: syn.Milliseconds(), MaxMs: tmax.Milliseconds(),
			P50: st.Lag.Quantile(0.5).Milliseconds(), P99: st.Lag.Quantile(0.99).Milliseconds(), Max: st.Lag.Max.Milliseconds()})
		if syn == time.Second {
			res.BytesPerEvent = float64(p.syncBytes) / float64(events)
			res.PayloadBytesPerEvent = float64(payload) / float64(events)
			res.BytesVsReplication["note"] = float64(p.syncBytes) / float64(copyBytes)
			res.DeviceCPUUsPerBatch = float64(p.deviceTime.Microseconds()) / float64(p.batches)
			q, err := newPair(7, syn, tmax)
			if err != nil {
				return res, err
			}
			cb, err := q.inbox()
			if err != nil {
				return res, fmt.Errorf("inbox: %w", err)
			}
			res.BytesVsReplication["inbox"] = float64(q.syncBytes) / float64(cb)
		}
	}
	eps, err := replayRate()
	if err != nil {
		return res, err
	}
	res.ReplayEventsPerS = eps
	res.Notes = []string{
		"t_syn_int 1 s unless said; keystrokes 200 ms apart; virtual time, link delays uniform in [0, t_max]",
		"bytes_per_event: batch and chunk bytes plus a 4-byte frame header each, per user input",
		"bytes_vs_replication.note: sync bytes over copying the whole changed note after each batch",
		"bytes_vs_replication.inbox: 100 messages with 100 KB attachments received by the inbox app as network inputs: sync bytes over copying each message",
		"device_cpu_us_per_batch: CPU time (getrusage, this thread) of the device core's calls per batch, on this machine",
	}
	return res, nil
}

// replayRate times the mirror's replay of 200,000 keystrokes taken in
// 10 s batches (decoding and verification not timed).
func replayRate() (float64, error) {
	p, err := newPair(3, 10*time.Second, 100*time.Millisecond)
	if err != nil {
		return 0, err
	}
	const events = 200_000
	var msgs [][]byte
	now := replication.Time(0)
	for i := range events {
		if _, err := p.d.Input(now, notes.Name, notes.Insert(fmt.Sprintf("n%d", i/noteBytes), i%noteBytes, []byte{'x'})); err != nil {
			return 0, err
		}
		now += 10
	}
	p.d.Tick(now + replication.Time(time.Hour.Milliseconds()))
	for _, m := range p.d.Ready().Send {
		if m.Kind == replication.MsgBatch {
			msgs = append(msgs, m.Data)
		}
	}
	for _, b := range msgs {
		if err := p.m.HandleBatch(0, b); err != nil {
			return 0, err
		}
	}
	t0 := time.Now()
	p.m.Tick(now + replication.Time(2*time.Hour.Milliseconds()))
	el := time.Since(t0)
	if got := p.m.Stats().Events; got != events {
		return 0, fmt.Errorf("replayed %d of %d events", got, events)
	}
	return float64(events) / el.Seconds(), nil
}
