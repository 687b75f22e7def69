package bounded

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

func TestReadFull(t *testing.T) {
	for _, n := range []int{0, 1, startSize - 1, startSize, startSize + 1, 5*startSize + 3} {
		src := bytes.Repeat([]byte{0xab}, n)
		got, err := ReadFull(iotest.OneByteReader(bytes.NewReader(src)), n)
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("n=%d: got %d bytes, err %v", n, len(got), err)
		}
	}
}

func TestReadFullShort(t *testing.T) {
	_, err := ReadFull(bytes.NewReader(make([]byte, 10)), 11)
	if !errors.Is(err, ErrShort) {
		t.Fatalf("err = %v, want ErrShort", err)
	}
	_, err = ReadFull(iotest.ErrReader(io.ErrClosedPipe), 1)
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("err = %v, want the reader's error", err)
	}
}

// TestReadFullGrowsWithInput: a 64 MiB announcement backed by 10 bytes
// allocates a few KiB, not 64 MiB.
func TestReadFullGrowsWithInput(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := ReadFull(bytes.NewReader(make([]byte, 10)), 64<<20)
	runtime.ReadMemStats(&after)
	if got != nil || !errors.Is(err, ErrShort) {
		t.Fatalf("got %d bytes, err %v", len(got), err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("allocated %d bytes for a 10-byte body", n)
	}
}

// FuzzReadFull: any announced length over any input returns exactly that
// many bytes or an error, never more, never a panic.
func FuzzReadFull(f *testing.F) {
	f.Add([]byte("hello"), uint32(5))
	f.Add([]byte{}, uint32(1<<30))
	f.Fuzz(func(t *testing.T, b []byte, n uint32) {
		got, err := ReadFull(bytes.NewReader(b), int(n%(64<<20)))
		if err == nil && len(got) != int(n%(64<<20)) {
			t.Fatalf("got %d bytes for %d", len(got), n)
		}
		if err == nil && !bytes.Equal(got, b[:len(got)]) {
			t.Fatal("bytes differ")
		}
	})
}

// The frame format's exact bytes, and what ReadFrame says of broken ones.
func TestFrame(t *testing.T) {
	var buf bytes.Buffer
	for _, body := range [][]byte{nil, []byte("hi"), bytes.Repeat([]byte{7}, 300)} {
		n, err := WriteFrame(&buf, body)
		if err != nil || n != uvarintLen(uint64(len(body)))+len(body) {
			t.Fatalf("wrote %d, %v", n, err)
		}
	}
	if got := buf.Bytes()[:6]; !bytes.Equal(got, []byte{0, 2, 'h', 'i', 0xac, 0x02}) {
		t.Fatalf("bytes % x", got)
	}
	r := bytes.NewReader(buf.Bytes())
	for _, want := range []int{0, 2, 300} {
		b, n, err := ReadFrame(r, 300)
		if err != nil || len(b) != want || n != uvarintLen(uint64(want))+want {
			t.Fatalf("read %d bytes (%d), %v; want %d", len(b), n, err, want)
		}
	}
	if _, _, err := ReadFrame(r, 300); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
	for name, c := range map[string]struct {
		in   []byte
		want error
	}{
		"over the cap":  {[]byte{0xac, 0x02}, ErrTooLarge},
		"cut length":    {[]byte{0x80}, io.ErrUnexpectedEOF},
		"long length":   {bytes.Repeat([]byte{0xff}, 11), ErrBadLength},
		"64-bit length": {append(bytes.Repeat([]byte{0xff}, 9), 0x02), ErrBadLength},
		"short body":    {[]byte{3, 'a'}, ErrShort},
	} {
		if _, _, err := ReadFrame(bytes.NewReader(c.in), 299); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// FuzzReadUvarint: the frame length reads as binary.ReadUvarint reads it,
// with its errors as ReadFrame names them.
func FuzzReadUvarint(f *testing.F) {
	f.Add([]byte{0xac, 0x02})
	f.Add(bytes.Repeat([]byte{0xff}, 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := readUvarint(bytes.NewReader(b))
		y, yerr := binary.ReadUvarint(bytes.NewReader(b))
		if (err == nil) != (yerr == nil) || x != y && err == nil {
			t.Fatalf("% x: %d, %v; binary: %d, %v", b, x, err, y, yerr)
		}
	})
}

// Into a *bufio.Writer a frame's bytes are the same, and writing it takes
// no buffer of its own.
func TestFrameIntoBufio(t *testing.T) {
	for _, size := range []int{0, 1, 127, 128, 300, 16383, 16384, 70000} {
		body := bytes.Repeat([]byte{9}, size)
		var plain, buffered bytes.Buffer
		if _, err := WriteFrame(&plain, body); err != nil {
			t.Fatal(err)
		}
		bw := bufio.NewWriterSize(&buffered, 64)
		n, err := WriteFrame(bw, body)
		if err != nil || bw.Flush() != nil || n != plain.Len() || !bytes.Equal(buffered.Bytes(), plain.Bytes()) {
			t.Fatalf("%d bytes: wrote %d, %v; the bytes differ from the plain frame's", size, n, err)
		}
	}
	bw := bufio.NewWriterSize(io.Discard, 4096)
	body := make([]byte, 400)
	if a := testing.AllocsPerRun(100, func() { _, _ = WriteFrame(bw, body) }); a != 0 {
		t.Errorf("WriteFrame into a bufio.Writer allocates %.0f times", a)
	}
}
