package bounded

import (
	"bytes"
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
