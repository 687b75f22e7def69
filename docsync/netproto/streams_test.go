package netproto

import "testing"

// Pushes keep the entries' order and stay within both caps.
func TestPushBatchesStayWithinTheCaps(t *testing.T) {
	var es [][]byte
	for i := range 40 {
		size := 100
		if i%7 == 0 {
			size = MaxFrame // big ones: at most two a push
		}
		es = append(es, make([]byte, size))
		es[i][0] = byte(i)
	}
	next := 0
	for _, b := range PushBatches(es) {
		if len(b) == 0 || len(b) > MaxPushEntries {
			t.Fatalf("a push of %d entries", len(b))
		}
		size := 0
		for _, e := range b {
			size += len(e)
			if e[0] != byte(next) {
				t.Fatalf("entry %d where %d was next", e[0], next)
			}
			next++
		}
		if size > MaxPushBytes {
			t.Fatalf("a push of %d bytes, over %d", size, MaxPushBytes)
		}
	}
	if next != len(es) {
		t.Fatalf("%d of %d entries pushed", next, len(es))
	}
}
