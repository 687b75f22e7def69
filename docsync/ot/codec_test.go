package ot

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestEncodingBytes pins the wire format byte for byte.
func TestEncodingBytes(t *testing.T) {
	tests := []struct {
		name string
		op   Op
		want []byte
	}{
		{"empty", Op{}, []byte{0x01, 0x00}},
		{"retain 5", ops(func(o *Op) { o.Retain(5) }), []byte{0x01, 0x01, 5<<2 | 1}},
		{"insert ascii", ops(func(o *Op) { o.Insert("hi") }),
			[]byte{0x01, 0x01, 2<<2 | 2, 'h', 'i'}},
		{"insert multibyte counts bytes", ops(func(o *Op) { o.Insert("é") }),
			[]byte{0x01, 0x01, 2<<2 | 2, 0xc3, 0xa9}},
		{"delete 3", ops(func(o *Op) { o.Delete(3) }), []byte{0x01, 0x01, 3<<2 | 3}},
		{"retain insert delete retain", ops(func(o *Op) { o.Retain(2).Insert("x").Delete(1).Retain(4) }),
			[]byte{0x01, 0x04, 2<<2 | 1, 1<<2 | 2, 'x', 1<<2 | 3, 4<<2 | 1}},
		{"two-byte varint", ops(func(o *Op) { o.Retain(100) }), []byte{0x01, 0x01, 0x91, 0x03}},
		{"large retain", ops(func(o *Op) { o.Retain(1 << 20) }), []byte{0x01, 0x01, 0x81, 0x80, 0x80, 0x02}},
	}
	for _, tt := range tests {
		got, err := tt.op.MarshalBinary()
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("%s: encode = % x, %v; want % x", tt.name, got, err, tt.want)
			continue
		}
		back, err := Decode(tt.want)
		if err != nil || !back.Equal(tt.op) {
			t.Errorf("%s: decode = %v, %v; want %v", tt.name, back, err, tt.op)
		}
		if app, _ := tt.op.AppendBinary([]byte{0xee}); !bytes.Equal(app, append([]byte{0xee}, tt.want...)) {
			t.Errorf("%s: AppendBinary does not append", tt.name)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty input", nil, ErrMalformed},
		{"bad version", []byte{0x02, 0x00}, ErrMalformed},
		{"missing count", []byte{0x01}, ErrMalformed},
		{"trailing byte", []byte{0x01, 0x00, 0x00}, ErrMalformed},
		{"count beyond input", []byte{0x01, 0x05, 0x05}, ErrMalformed},
		{"kind zero", []byte{0x01, 0x01, 1 << 2}, ErrMalformed},
		{"empty retain", []byte{0x01, 0x01, 0x01}, ErrMalformed},
		{"empty insert", []byte{0x01, 0x01, 0x02}, ErrMalformed},
		{"truncated insert", []byte{0x01, 0x01, 3<<2 | 2, 'a'}, ErrMalformed},
		{"overlong varint", []byte{0x01, 0x01, 0x85, 0x00}, ErrMalformed},
		{"varint overflow", []byte{0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrMalformed},
		{"retain retain", []byte{0x01, 0x02, 1<<2 | 1, 1<<2 | 1}, ErrNotNormalized},
		{"delete then insert", []byte{0x01, 0x02, 1<<2 | 3, 1<<2 | 2, 'a'}, ErrNotNormalized},
		{"invalid utf8", []byte{0x01, 0x01, 1<<2 | 2, 0xff}, ErrInvalidUTF8},
		{"surrogate utf8", []byte{0x01, 0x01, 3<<2 | 2, 0xed, 0xa0, 0x80}, ErrInvalidUTF8},
		{"huge retain", []byte{0x01, 0x01, 0x81, 0x80, 0x80, 0x80, 0x02}, ErrTooLarge},
		{"huge count", []byte{0x01, 0x80, 0x80, 0x80, 0x80, 0x01}, ErrTooLarge},
	}
	for _, tt := range tests {
		if o, err := Decode(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: Decode(% x) = %v, %v; want %v", tt.name, tt.in, o, err, tt.want)
		}
	}
	// Sum of lengths over the limit, each component under it.
	lim := Limits{MaxComponents: 10, MaxLen: 10}
	if _, err := DecodeLimits([]byte{0x01, 0x03, 6<<2 | 1, 1<<2 | 2, 'a', 6<<2 | 1}, lim); !errors.Is(err, ErrTooLarge) {
		t.Errorf("sum over limit: %v", err)
	}
	if _, err := DecodeLimits([]byte{0x01, 0x0b}, lim); !errors.Is(err, ErrTooLarge) {
		t.Errorf("count over limit: %v", err)
	}
	if _, err := DecodeLimits([]byte{0x01, 0x01, 0x81, 0x80, 0x80, 0x80, 0x02}, Limits{MaxLen: -1}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("negative limit must mean the default, got %v", err)
	}
	notNorm := Op{Comps: []Component{{Kind: Retain, N: 1}, {Kind: Retain, N: 1}}, BaseLen: 2, TargetLen: 2}
	if _, err := notNorm.MarshalBinary(); !errors.Is(err, ErrNotNormalized) {
		t.Errorf("encode non-normalized: %v", err)
	}
}

func TestEncodingRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 20_000 {
		o := randOp(rng, rng.IntN(200))
		b, err := o.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Op
		if err := back.UnmarshalBinary(b); err != nil || !back.Equal(o) {
			t.Fatalf("case %d: %v -> % x -> %v, %v", i, o, b, back, err)
		}
		again, _ := back.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatalf("case %d: re-encoding differs", i)
		}
	}
}
