package xferbench_test

import (
	"context"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication/xferbench"
)

// TestSendOnceToMany is the must-show: a 20 MB file to 5
// recipients on real hosts and pebble stores. The sender's phone uploads
// it once (at most 1.05 times its size, from the phone's byte counter),
// every recipient's phone ends with identical bytes, and the two phones
// that were off during the send get it when they come back.
func TestSendOnceToMany(t *testing.T) {
	size := 20 << 20
	if testing.Short() {
		size = 3 << 20
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := xferbench.SendToMany(ctx, t.TempDir(), size, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Ratio > 1.05 || r.Ratio < 1 {
		t.Errorf("device upload ratio %.4f, want at most 1.05 (and at least 1)", r.Ratio)
	}
	if r.Identical != 5 || r.Delivered != 5 {
		t.Errorf("%d recipients identical, %d delivered, want 5 and 5", r.Identical, r.Delivered)
	}
	if r.ClonePulled < 5*uint64(size) {
		t.Errorf("recipient clones pulled %d bytes, want 5 copies of %d", r.ClonePulled, size)
	}
}
