package dht

import (
	"bytes"
	"fmt"
	"time"

	record "github.com/libp2p/go-libp2p-record"
)

// signedRecord is what the validator needs from either record type.
type signedRecord interface {
	Key() string
	Verify(now time.Time) error
	order() (seq uint64, eol time.Time)
}

func (c *OwnerCert) order() (uint64, time.Time)   { return c.Seq, c.EOL }
func (d *DeviceIndex) order() (uint64, time.Time) { return d.Seq, d.EOL }

// decodeRecord decodes value as the record type that key names and checks
// that the body names the same key.
func decodeRecord(key string, value []byte) (signedRecord, error) {
	if len(value) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(value))
	}
	pk, err := parseKey(key)
	if err != nil {
		return nil, err
	}
	var rec signedRecord
	switch pk.kind {
	case kindCert:
		rec, err = UnmarshalOwnerCert(value)
	default:
		rec, err = UnmarshalDeviceIndex(value)
	}
	if err != nil {
		return nil, err
	}
	if rec.Key() != key {
		return nil, fmt.Errorf("%w: key %q, body names %q", ErrKeyMismatch, key, rec.Key())
	}
	return rec, nil
}

// Validator is the record.Validator of the "/c2c" namespace. It is pure:
// time comes from the injected clock.
type Validator struct {
	now func() time.Time
}

var _ record.Validator = (*Validator)(nil)

// NewValidator returns the directory validator; now defaults to time.Now.
// The concrete type is *Validator (see CheckUpdate).
func NewValidator(now func() time.Time) record.Validator {
	return newValidator(now)
}

func newValidator(now func() time.Time) *Validator {
	if now == nil {
		now = time.Now
	}
	return &Validator{now: now}
}

// Validate rejects, each with its own sentinel: oversized values
// (ErrTooLarge), bad keys or encodings (ErrMalformed), a body that names
// another key (ErrKeyMismatch), a signer that is not the user
// (ErrWrongSigner), a missing or wrong signature (ErrBadSignature) and an
// expired record (ErrExpired).
func (v *Validator) Validate(key string, value []byte) error {
	_, err := v.check(key, value)
	return err
}

func (v *Validator) check(key string, value []byte) (signedRecord, error) {
	rec, err := decodeRecord(key, value)
	if err != nil {
		return nil, err
	}
	if err := rec.Verify(v.now()); err != nil {
		return nil, err
	}
	return rec, nil
}

// Select picks the best value: higher seq, then later EOL, then the larger
// bytes. Ties (equal values) keep the lowest index, so equal values give 0.
// Values that do not decode are never selected.
func (v *Validator) Select(key string, vals [][]byte) (int, error) {
	best := -1
	var bestRec signedRecord
	for i, val := range vals {
		rec, err := decodeRecord(key, val)
		if err != nil {
			continue
		}
		if best < 0 || compareRecords(rec, val, bestRec, vals[best]) > 0 {
			best, bestRec = i, rec
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("%w: no decodable value among %d for %q", ErrMalformed, len(vals), key)
	}
	return best, nil
}

// compareRecords orders two records of the same key: >0 if a wins.
func compareRecords(a signedRecord, aRaw []byte, b signedRecord, bRaw []byte) int {
	aSeq, aEOL := a.order()
	bSeq, bEOL := b.order()
	switch {
	case aSeq != bSeq:
		if aSeq > bSeq {
			return 1
		}
		return -1
	case !aEOL.Equal(bEOL):
		if aEOL.After(bEOL) {
			return 1
		}
		return -1
	}
	return bytes.Compare(aRaw, bRaw)
}

// CheckUpdate validates next and requires it to supersede prev (which may
// be nil). It returns ErrStaleSeq for a replayed or older record; an
// identical record is not an update and is also ErrStaleSeq.
func (v *Validator) CheckUpdate(key string, prev, next []byte) error {
	rec, err := v.check(key, next)
	if err != nil {
		return err
	}
	if prev == nil {
		return nil
	}
	old, err := decodeRecord(key, prev)
	if err != nil {
		return nil // what we held is unreadable; the valid newcomer replaces it
	}
	if compareRecords(rec, next, old, prev) <= 0 {
		oldSeq, _ := old.order()
		newSeq, _ := rec.order()
		return fmt.Errorf("%w: have seq %d, got seq %d", ErrStaleSeq, oldSeq, newSeq)
	}
	return nil
}
