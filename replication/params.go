package replication

import (
	"fmt"
	"time"
)

// Time is an instant in milliseconds since the Unix epoch. The device's
// timestamps are inputs (apps read time only from them); the mirror's times
// are its own clock's, passed in by the caller. Both sides are assumed to be
// NTP-synchronized; the lag the mirror measures includes any skew.
type Time int64

// Add returns t+d, rounded down to the millisecond.
func (t Time) Add(d time.Duration) Time { return t + Time(d.Milliseconds()) }

// Sub returns t-u.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t-u) * time.Millisecond }

// Protocol caps. Device and mirror must agree on them, so they are constants
// rather than tuning Params; every decoder enforces them.
const (
	MaxBatchBytes  = 8 << 20  // one encoded batch
	MaxBatchInputs = 1 << 16  // user plus network inputs in one batch
	MaxInline      = 1024     // an inline payload; larger ones travel as chunks
	MaxChunkBytes  = 4 << 20  // one chunk (payload or state)
	MaxApps        = 64       // apps in one epoch
	MaxManifest    = 1 << 16  // chunk hashes in one app's manifest
	MaxNameBytes   = 64       // an app or device-model name
	MaxOfferBytes  = 16 << 20 // an encoded offer or template
)

// Params are the per-device tuning numbers. Device and mirror of one phone
// use the same values, agreed at enrolment.
type Params struct {
	// SyncInterval is t_syn_int: the device closes a batch this often. Whole milliseconds.
	SyncInterval time.Duration
	// MaxDelay is t_max: the mirror replays a batch this long after it closed.
	MaxDelay time.Duration
	// InlineLimit: payloads up to this many bytes travel inline, larger ones as chunk references.
	InlineLimit int
	// MaxPayloadBytes caps one input's payload.
	MaxPayloadBytes int
	// MaxBatchInputs caps the inputs of one batch; the device closes a batch early when it is full.
	MaxBatchInputs int
	// MaxNetCache caps the network inputs the mirror holds for the device.
	MaxNetCache int
	// ResyncRetry: a mirror waiting this long for an offer or chunks asks again.
	ResyncRetry time.Duration
}

// DefaultParams returns t_syn_int 1 s, t_max 100 ms (the paper's 3G figure),
// a 256-byte inline limit, 1 MiB payloads, 16384 inputs a batch, 65536
// cached network inputs and a resync retry after 5 s.
func DefaultParams() Params {
	return Params{
		SyncInterval:    time.Second,
		MaxDelay:        100 * time.Millisecond,
		InlineLimit:     256,
		MaxPayloadBytes: 1 << 20,
		MaxBatchInputs:  1 << 14,
		MaxNetCache:     1 << 16,
		ResyncRetry:     5 * time.Second,
	}
}

// orDefault returns DefaultParams for the zero Params, else p, validated.
func (p Params) orDefault() (Params, error) {
	if p == (Params{}) {
		p = DefaultParams()
	}
	return p, p.Validate()
}

// Validate reports the first field out of range, wrapping ErrParams.
func (p Params) Validate() error {
	bad := func(f string, args ...any) error { return fmt.Errorf("%w: "+f, append([]any{ErrParams}, args...)...) }
	switch {
	case p.SyncInterval < time.Millisecond || p.SyncInterval%time.Millisecond != 0 || p.SyncInterval > time.Hour:
		return bad("SyncInterval %v: whole milliseconds from 1 ms to 1 h", p.SyncInterval)
	case p.MaxDelay < 0 || p.MaxDelay%time.Millisecond != 0 || p.MaxDelay > time.Hour:
		return bad("MaxDelay %v: whole milliseconds up to 1 h", p.MaxDelay)
	case p.InlineLimit < 0 || p.InlineLimit > MaxInline:
		return bad("InlineLimit %d: 0 to %d", p.InlineLimit, MaxInline)
	case p.MaxPayloadBytes < p.InlineLimit || p.MaxPayloadBytes > MaxChunkBytes:
		return bad("MaxPayloadBytes %d: InlineLimit to %d", p.MaxPayloadBytes, MaxChunkBytes)
	case p.MaxBatchInputs < 1 || p.MaxBatchInputs > MaxBatchInputs:
		return bad("MaxBatchInputs %d: 1 to %d", p.MaxBatchInputs, MaxBatchInputs)
	case p.MaxNetCache < 1:
		return bad("MaxNetCache %d: at least 1", p.MaxNetCache)
	case p.ResyncRetry < time.Millisecond:
		return bad("ResyncRetry %v: at least 1 ms", p.ResyncRetry)
	}
	return nil
}
