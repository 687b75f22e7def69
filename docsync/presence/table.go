package presence

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/internal/guard"
)

// Errors of Table.Put.
var (
	// ErrReplay: the stamp is not past the member's last one.
	ErrReplay = errors.New("presence: replayed or reordered message")
	// ErrStale: the stamp is older than TTL or too far ahead of our clock.
	ErrStale = errors.New("presence: stale stamp")
	// ErrFull: the document holds MaxEntries carets already.
	ErrFull = errors.New("presence: too many carets")
)

// Params are presence's limits.
type Params struct {
	// TTL: a caret not refreshed for this long is dropped.
	TTL time.Duration
	// Refresh: a clone sends its connected device's caret again this often.
	Refresh time.Duration
	// Interval: the least time between two sends of one device's caret;
	// what comes in between is coalesced to the latest.
	Interval time.Duration
	// Rate bounds what one member's clone may publish (checked before
	// gossipsub forwards it, so it bounds the fan-out too).
	Rate guard.Rate
	// MaxEntries bounds the carets kept per document (members x devices).
	MaxEntries int
	// MaxSkew: a stamp this far ahead of our clock is refused.
	MaxSkew time.Duration
	// MaxLag: a caret on a seq this far behind the receiver's is refused
	// (mapping it costs one transform per seq in between).
	MaxLag uint64
}

// DefaultParams: 20 carets a second per member at most, refreshed every
// 10 s, expired after 30 s; 256 carets per document.
func DefaultParams() Params {
	return Params{TTL: 30 * time.Second, Refresh: 10 * time.Second, Interval: 50 * time.Millisecond,
		Rate: guard.Rate{PerSecond: 20, Burst: 20}, MaxEntries: 256, MaxSkew: 30 * time.Second,
		MaxLag: 1024}
}

// Validate checks the params.
func (p Params) Validate() error {
	if p.TTL <= 0 || p.Refresh <= 0 || p.Refresh >= p.TTL || p.Interval < 0 || p.Rate.PerSecond <= 0 || p.Rate.Burst < 1 ||
		p.MaxEntries < 1 || p.MaxSkew < 0 || p.MaxLag < 1 {
		return fmt.Errorf("presence: invalid params %+v", p)
	}
	return nil
}

// Entry is one member device's caret as a clone keeps it: positions of the
// committed text at Seq.
type Entry struct {
	Member       docsync.MemberID
	Device, Name string
	Seq          uint64
	Anchor, Head int
	Stamp        uint64
	Received     time.Time
}

type entryKey struct {
	member docsync.MemberID
	device string
}

// Table is one document's carets from other members (pure: time is passed
// in). Bounded: MaxEntries carets, and one stamp per member that has one.
type Table struct {
	p       Params
	entries map[entryKey]*Entry
	stamps  map[docsync.MemberID]uint64
}

// NewTable returns an empty table.
func NewTable(p Params) *Table {
	return &Table{p: p, entries: map[entryKey]*Entry{}, stamps: map[docsync.MemberID]uint64{}}
}

// Put takes an opened update from a member (the caller checked it is one,
// under the current epoch) received at now; changed reports whether the
// table changed.
func (t *Table) Put(u *Update, now time.Time) (changed bool, err error) {
	if u.Stamp <= t.stamps[u.Member] {
		return false, ErrReplay
	}
	ms := now.UnixMilli()
	if ms < 0 || u.Stamp+uint64(t.p.TTL.Milliseconds()) < uint64(ms) || u.Stamp > uint64(ms)+uint64(t.p.MaxSkew.Milliseconds()) {
		return false, ErrStale
	}
	k := entryKey{u.Member, u.Device}
	if u.Leave {
		t.stamps[u.Member] = u.Stamp
		_, had := t.entries[k]
		delete(t.entries, k)
		return had, nil
	}
	if t.entries[k] == nil && len(t.entries) >= t.p.MaxEntries {
		return false, ErrFull
	}
	t.stamps[u.Member] = u.Stamp
	t.entries[k] = &Entry{Member: u.Member, Device: u.Device, Name: u.Name, Seq: u.Seq, Anchor: u.Anchor, Head: u.Head,
		Stamp: u.Stamp, Received: now}
	return true, nil
}

// Expire drops the carets not refreshed within TTL of now.
func (t *Table) Expire(now time.Time) (changed bool) {
	cut := now.Add(-t.p.TTL)
	for k, e := range t.entries {
		if !e.Received.After(cut) {
			delete(t.entries, k)
			changed = true
		}
	}
	t.forgetStamps(now)
	return changed
}

// Retain drops the carets (and stamps) of every member keep refuses: a
// removed member's caret goes at once.
func (t *Table) Retain(keep func(docsync.MemberID) bool) (changed bool) {
	for k := range t.entries {
		if !keep(k.member) {
			delete(t.entries, k)
			changed = true
		}
	}
	for m := range t.stamps {
		if !keep(m) {
			delete(t.stamps, m)
		}
	}
	return changed
}

// forgetStamps drops the stamps of members with no caret once they are
// older than TTL: a replay of anything that old is stale anyway.
func (t *Table) forgetStamps(now time.Time) {
	held := map[docsync.MemberID]bool{}
	for k := range t.entries {
		held[k.member] = true
	}
	old := uint64(max(now.Add(-t.p.TTL).UnixMilli(), 0))
	for m, s := range t.stamps {
		if !held[m] && s < old {
			delete(t.stamps, m)
		}
	}
}

// Move calls f on every caret, which may change its seq and positions
// (to keep them on a later seq) or return false to drop it.
func (t *Table) Move(f func(e *Entry) bool) {
	for k, e := range t.entries {
		if !f(e) {
			delete(t.entries, k)
		}
	}
}

// Len is the number of carets held.
func (t *Table) Len() int { return len(t.entries) }

// Entries returns the carets by member, then device.
func (t *Table) Entries() []Entry {
	out := make([]Entry, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := bytes.Compare(a.Member[:], b.Member[:]); c != 0 {
			return c
		}
		return strings.Compare(a.Device, b.Device)
	})
	return out
}
