package wirebytes

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

var errBase = errors.New("test: malformed")

type blob []byte

func (b blob) MarshalBinary() ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("empty blob")
	}
	return b, nil
}

func (b *blob) UnmarshalBinary(p []byte) error {
	if len(p) == 0 {
		return errors.New("empty blob")
	}
	*b = append((*b)[:0], p...)
	return nil
}

func TestWriterBytes(t *testing.T) {
	var w Writer
	w.Byte(0xff)
	w.Uvarint(300)
	w.Bytes([]byte("ab"))
	w.String("")
	w.U16(0x0102)
	w.U64(3)
	w.Bytes16([]byte("c"))
	w.String16("de")
	w.Marshal(blob("x"))
	w.Raw([]byte{9})
	w.Append(func(b []byte) ([]byte, error) { return append(b, 7), nil })
	b, err := w.Result()
	if err != nil {
		t.Fatal(err)
	}
	const want = "ff" + "ac02" + "026162" + "00" + "0102" + "0000000000000003" + "000163" + "00026465" + "0178" + "09" + "07"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if w.Len() != len(b) {
		t.Fatalf("Len %d, %d bytes", w.Len(), len(b))
	}

	r := NewReader(b, errBase)
	if r.Byte() != 0xff || r.Uvarint() != 300 || string(r.Bytes()) != "ab" || len(r.Bytes()) != 0 ||
		r.U16() != 0x0102 || r.U64() != 3 || string(r.Bytes16()) != "c" || string(r.Bytes16()) != "de" {
		t.Fatalf("read back wrong: %v", r.Err())
	}
	var x blob
	r.Unmarshal(&x)
	if string(x) != "x" || !bytes.Equal(r.Fixed(1), []byte{9}) {
		t.Fatalf("read back wrong: %v", r.Err())
	}
	r.UnmarshalRest(&x)
	if string(x) != "\x07" || r.End() != nil {
		t.Fatalf("end: %q %v", x, r.Err())
	}
}

func TestWriterKeepsFirstError(t *testing.T) {
	w := NewWriter([]byte{1})
	w.Marshal(blob(nil))
	w.Marshal(blob("y"))
	w.Append(func(b []byte) ([]byte, error) { return append(b, 2), nil })
	if b, err := w.Result(); err == nil || b != nil || w.Err() == nil {
		t.Fatalf("Result = %x, %v", b, err)
	}
}

func TestReaderErrors(t *testing.T) {
	for name, c := range map[string]struct {
		in   string
		read func(r *Reader)
	}{
		"empty byte":      {"", func(r *Reader) { r.Byte() }},
		"short varint":    {"80", func(r *Reader) { r.Uvarint() }},
		"overlong varint": {"ffffffffffffffffffff01", func(r *Reader) { r.Uvarint() }},
		"non-minimal":     {"8000", func(r *Reader) { r.MinimalUvarint() }},
		"bytes past end":  {"05616263", func(r *Reader) { r.Bytes() }},
		"huge length":     {"ffffffffffffffff7f", func(r *Reader) { r.Bytes() }},
		"bytes16 short":   {"000361", func(r *Reader) { r.Bytes16() }},
		"u16 short":       {"01", func(r *Reader) { r.U16() }},
		"u64 short":       {"01020304050607", func(r *Reader) { r.U64() }},
		"fixed short":     {"01", func(r *Reader) { r.Fixed(2) }},
		"trailing":        {"0101", func(r *Reader) { r.Byte(); _ = r.End() }},
		"unmarshal":       {"00", func(r *Reader) { var b blob; r.Unmarshal(&b) }},
		"rest":            {"", func(r *Reader) { var b blob; r.UnmarshalRest(&b) }},
	} {
		b, _ := hex.DecodeString(c.in)
		r := NewReader(b, errBase)
		c.read(r)
		if !errors.Is(r.Err(), errBase) {
			t.Errorf("%s: err = %v, want the base error", name, r.Err())
		}
	}
	// The first error sticks; later reads return zero values, Fixed a
	// zeroed slice the caller may index.
	r := NewReader([]byte{0x80, 0x80}, errBase)
	r.Uvarint()
	first := r.Err()
	if r.Byte() != 0 || r.Bytes() != nil || len(r.Fixed(2)) != 2 || r.Err() != first || first == nil || r.Len() != 2 {
		t.Fatal("reads after an error changed something")
	}
	r.Fail("other")
	if r.Err() != first {
		t.Fatal("Fail replaced the first error")
	}
}

// FuzzReader: any input, any sequence of reads: no panic, and no byte
// string longer than what was there.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0x03, 'a', 'b', 'c', 0, 1, 'x'}, []byte{0, 1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, in, ops []byte) {
		r := NewReader(in, errBase)
		for _, op := range ops {
			var got []byte
			switch op % 7 {
			case 0:
				r.Byte()
			case 1:
				r.Uvarint()
			case 2:
				r.MinimalUvarint()
			case 3:
				got = r.Bytes()
			case 4:
				got = r.Bytes16()
			case 5:
				r.U64()
			case 6:
				r.Fixed(int(op % 5))
			}
			if len(got) > len(in) {
				t.Fatalf("read %d bytes from %d", len(got), len(in))
			}
		}
		_ = r.End()
	})
}
