package intern

import (
	"bytes"
	"runtime"
	"testing"
)

func TestEqualBytesShareOneCopy(t *testing.T) {
	tb := New()
	a := tb.Bytes([]byte("an ML-KEM key, say"))
	b := tb.Bytes([]byte("an ML-KEM key, say"))
	c := tb.Bytes([]byte("another key"))
	if &a[0] != &b[0] {
		t.Fatal("equal bytes got two copies")
	}
	if &a[0] == &c[0] || !bytes.Equal(c, []byte("another key")) {
		t.Fatal("different bytes shared a copy")
	}
	if cap(a) != len(a) {
		t.Fatalf("cap %d, len %d: an append would write into the shared copy", cap(a), len(a))
	}
	if tb.Bytes(nil) != nil || tb.Bytes([]byte{}) != nil {
		t.Fatal("empty input must give nil")
	}
}

func TestInputIsCopied(t *testing.T) {
	tb := New()
	in := []byte("mutable input")
	out := tb.Bytes(in)
	in[0] = 'X'
	if string(out) != "mutable input" {
		t.Fatalf("the copy changed with its input: %q", out)
	}
}

// TestCollectedCopiesAreSwept checks that the table does not keep what
// nobody holds: dead entries go at the sweeps, so it stays about the size
// of what is live.
func TestCollectedCopiesAreSwept(t *testing.T) {
	tb := New()
	keep := tb.Bytes(bytes.Repeat([]byte{7}, 2000))
	for i := range 20 * minSweep {
		b := make([]byte, 1000)
		b[0], b[1], b[2] = byte(i), byte(i>>8), byte(i>>16)
		tb.Bytes(b)
		if i%minSweep == 0 {
			runtime.GC()
		}
	}
	runtime.GC()
	if n := tb.Len(); n > 4*minSweep {
		t.Fatalf("%d entries after 20x%d dead inserts: dead entries are not swept", n, minSweep)
	}
	if got := tb.Bytes(bytes.Repeat([]byte{7}, 2000)); &got[0] != &keep[0] {
		t.Fatal("a live copy was dropped by a sweep")
	}
}

func FuzzBytes(f *testing.F) {
	f.Add([]byte("k"), []byte("k"))
	f.Add([]byte("a"), []byte("b"))
	tb := New()
	f.Fuzz(func(t *testing.T, a, b []byte) {
		x, y := tb.Bytes(a), tb.Bytes(b)
		if !bytes.Equal(x, a) || !bytes.Equal(y, b) {
			t.Fatal("interned bytes differ from their input")
		}
		if len(a) > 0 && bytes.Equal(a, b) && &x[0] != &y[0] {
			t.Fatal("equal bytes not shared")
		}
	})
}
