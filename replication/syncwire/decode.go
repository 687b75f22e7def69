package syncwire

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/clone2clone/c2c/replication"
)

// dec reads a body; the first error sticks.
type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *dec) uvarint(field string, limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(fmt.Errorf("%w: %s", ErrTruncated, field))
		return 0
	case n < 0:
		d.fail(fmt.Errorf("%w: %s overflows", ErrMalformed, field))
		return 0
	case n > 1 && d.b[d.off+n-1] == 0:
		d.fail(fmt.Errorf("%w: %s is not minimally encoded", ErrMalformed, field))
		return 0
	case v > limit:
		d.fail(fmt.Errorf("%w: %s %d, cap %d", ErrTooLarge, field, v, limit))
		return 0
	}
	d.off += n
	return v
}

func (d *dec) bytes(field string, limit int) []byte {
	n := d.uvarint(field+" length", uint64(limit))
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail(fmt.Errorf("%w: %s needs %d bytes, %d left", ErrTruncated, field, n, len(d.b)-d.off))
		return nil
	}
	s := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return s
}

func (d *dec) fixed(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.off {
		d.fail(fmt.Errorf("%w: %s", ErrTruncated, field))
		return nil
	}
	s := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return s
}

func (d *dec) hash(field string) (h replication.Hash) {
	copy(h[:], d.fixed(field, 32))
	return h
}

func (d *dec) name(field string) string {
	s := d.bytes(field, replication.MaxNameBytes)
	if d.err == nil && !validName(s) {
		d.fail(fmt.Errorf("%w: %s %q", ErrMalformed, field, s))
	}
	return string(s)
}

// rest returns the remaining bytes.
func (d *dec) rest() []byte {
	if d.err != nil {
		return nil
	}
	s := d.b[d.off:]
	d.off = len(d.b)
	return s
}

func (d *dec) end() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail(fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b)-d.off))
	}
	return d.err
}

// validName: 1 to 64 bytes of [a-z0-9._/-], the core's rule for app and device names.
func validName(s []byte) bool {
	if len(s) == 0 || len(s) > replication.MaxNameBytes {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '/' || c == '-') {
			return false
		}
	}
	return true
}

// Decode decodes a body (kind byte first). Byte fields alias body.
func Decode(body []byte) (*Message, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrTruncated)
	}
	if len(body) > MaxFrame {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrTooLarge, len(body))
	}
	m := &Message{Kind: Kind(body[0])}
	d := &dec{b: body, off: 1}
	switch m.Kind {
	case KindHello:
		if len(body) > HelloFrame {
			return nil, fmt.Errorf("%w: hello of %d bytes, cap %d", ErrTooLarge, len(body), HelloFrame)
		}
		h := &Hello{}
		h.User = d.bytes("user", MaxUserID)
		h.Device = d.name("device")
		h.Epoch = d.uvarint("epoch", maxTime)
		h.SyncMs = d.uvarint("t_syn_int", maxMillis)
		h.MaxDelay = d.uvarint("t_max", maxMillis)
		n := d.uvarint("apps", MaxHelloApps)
		for i := uint64(0); i < n && d.err == nil; i++ {
			h.Apps = append(h.Apps, d.name("app"))
		}
		h.Number = d.uvarint("number", maxTime)
		h.NextSeq = d.uvarint("next seq", maxTime)
		h.LastNet = d.uvarint("last net", maxTime)
		if d.err == nil {
			switch {
			case len(h.User) == 0 || h.Epoch == 0 || h.SyncMs == 0 || n == 0 || h.NextSeq == 0:
				d.fail(fmt.Errorf("%w: hello with an empty user, zero epoch, t_syn_int or next seq, or no apps", ErrMalformed))
			case !sortedUnique(h.Apps):
				d.fail(fmt.Errorf("%w: hello apps not sorted and unique", ErrMalformed))
			}
		}
		m.Hello = h
	case KindWelcome:
		w := &Welcome{}
		w.Taken = d.uvarint("taken", maxTime)
		w.Relayed = d.uvarint("relayed", maxTime)
		w.Replayed = d.uvarint("replayed", maxTime)
		w.StateHash = d.hash("state hash")
		if d.err == nil && w.Replayed > w.Taken {
			d.fail(fmt.Errorf("%w: replayed %d beyond taken %d", ErrMalformed, w.Replayed, w.Taken))
		}
		m.Welcome = w
	case KindRefuse:
		c := d.fixed("code", 1)
		if d.err == nil {
			m.Code = RefuseCode(c[0])
			if m.Code == 0 || m.Code >= refuseEnd {
				d.fail(fmt.Errorf("%w: refuse code %d", ErrMalformed, m.Code))
			}
		}
		r := d.bytes("reason", MaxReason)
		if d.err == nil && !utf8.Valid(r) {
			d.fail(fmt.Errorf("%w: reason is not UTF-8", ErrMalformed))
		}
		m.Reason = string(r)
	case KindBatch, KindChunk, KindOffer:
		m.Data = d.rest()
		limit := replication.MaxBatchBytes
		switch m.Kind {
		case KindChunk:
			limit = replication.MaxChunkBytes
		case KindOffer:
			limit = replication.MaxOfferBytes
		}
		if len(m.Data) == 0 || len(m.Data) > limit {
			d.fail(fmt.Errorf("%w: kind %d carries %d bytes, want 1 to %d", ErrTooLarge, m.Kind, len(m.Data), limit))
		}
	case KindNet:
		n := &Net{}
		n.NetSeq = d.uvarint("net seq", maxTime)
		n.App = d.name("app")
		n.Payload = d.rest()
		if d.err == nil && n.NetSeq == 0 {
			d.fail(fmt.Errorf("%w: net seq 0", ErrMalformed))
		}
		if d.err == nil && len(n.Payload) > replication.MaxChunkBytes {
			d.fail(fmt.Errorf("%w: network payload of %d bytes", ErrTooLarge, len(n.Payload)))
		}
		m.Net = n
	case KindAck, KindDone:
		m.Number = d.uvarint("number", maxTime)
	case KindResync:
		m.Number = d.uvarint("number", maxTime)
		c := d.fixed("cause", 1)
		if d.err == nil {
			m.Cause = c[0]
			if m.Cause < CauseMismatch || m.Cause > CauseEnrol {
				d.fail(fmt.Errorf("%w: resync cause %d", ErrMalformed, m.Cause))
			}
		}
	case KindReplayed:
		r := &Replayed{}
		r.Number = d.uvarint("number", maxTime)
		c := d.fixed("match", 1)
		if d.err == nil {
			if c[0] > 1 {
				d.fail(fmt.Errorf("%w: match byte %d", ErrMalformed, c[0]))
			}
			r.Match = c[0] == 1
		}
		r.LagMs = d.uvarint("lag", maxTime)
		r.StateHash = d.hash("state hash")
		if d.err == nil && r.Number == 0 {
			d.fail(fmt.Errorf("%w: replayed batch 0", ErrMalformed))
		}
		m.Replayed = r
	case KindWant:
		n := d.uvarint("want count", MaxWant)
		if d.err == nil && (n == 0 || n*32 != uint64(len(body)-d.off)) {
			d.fail(fmt.Errorf("%w: want of %d hashes in %d bytes", ErrMalformed, n, len(body)-d.off))
		}
		if d.err == nil {
			m.Want = make([]replication.Hash, n)
			for i := range m.Want {
				m.Want[i] = d.hash("want")
			}
		}
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, body[0])
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return m, nil
}

func sortedUnique(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// CauseCode maps a core divergence cause to its wire code.
func CauseCode(err error) uint8 {
	switch err {
	case replication.ErrBatchGap:
		return CauseGap
	case replication.ErrEnrol:
		return CauseEnrol
	}
	return CauseMismatch
}

// CauseErr maps a wire cause code back to the core's sentinel.
func CauseErr(c uint8) error {
	switch c {
	case CauseGap:
		return replication.ErrBatchGap
	case CauseEnrol:
		return replication.ErrEnrol
	}
	return replication.ErrStateMismatch
}
