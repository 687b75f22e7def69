package netproto

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

// TestCompactedAnswer: a compacted frame reads back as a CompactedError
// naming the snapshot, after the entries before it.
func TestCompactedAnswer(t *testing.T) {
	var buf bytes.Buffer
	c := &CompactedError{FirstKept: 9001, Snapshot: 10000}
	if err := WriteFrame(&buf, c.frame()); err != nil {
		t.Fatal(err)
	}
	_ = WriteFrame(&buf, nil)
	want := []byte{0x00, 'C', 0, 0, 0, 0, 0, 0, 0x23, 0x29, 0, 0, 0, 0, 0, 0, 0x27, 0x10}
	if !bytes.Equal(c.frame(), want) {
		t.Fatalf("frame %x, want %x", c.frame(), want)
	}
	out, err := ReadEntries(bufio.NewReader(&buf), 4, 1<<20)
	var got *CompactedError
	if len(out) != 0 || !errors.As(err, &got) || !errors.Is(err, ErrCompacted) || *got != *c {
		t.Fatalf("read %d entries, %v", len(out), err)
	}
}
