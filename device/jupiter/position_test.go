package jupiter

import (
	"testing"

	"github.com/clone2clone/c2c/docsync/ot"
)

// TestPositionsThroughPending: a caret set on the device's text maps to the
// server's version and back, and the server maps it on through the entries
// others made meanwhile, staying before the same character.
func TestPositionsThroughPending(t *testing.T) {
	srv := NewServer(1, "hello world", DefaultParams())
	c := NewClient()
	b, err := srv.Bundle("phone", c.Connect())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resume(b); err != nil {
		t.Fatal(err)
	}
	// The device types "big " before "world" (in flight), then "!" at the end (buffered).
	op1, _ := ot.FromPatch(c.Len(), 6, 0, "big ")
	e, err := c.Local(op1)
	if err != nil || e == nil {
		t.Fatal(e, err)
	}
	op2, _ := ot.FromPatch(c.Len(), c.Len(), 0, "!")
	if _, err := c.Local(op2); err != nil {
		t.Fatal(err)
	}
	// "hello big world!": a caret before "w" (10) is 6 in the server's text.
	if got := c.ToVersion(10); got != 6 {
		t.Fatalf("ToVersion(10) = %d, want 6", got)
	}
	if got := c.FromVersion(6); got != 6 {
		t.Fatalf("FromVersion(6) = %d, want 6 (before the device's own pending insert)", got)
	}
	if got := c.FromVersion(7); got != 11 {
		t.Fatalf("FromVersion(7) = %d, want 11", got)
	}
	// Meanwhile the server took a remote op ("oh, " at 0) and the device's edit.
	v0 := srv.Version()
	remote, _ := ot.FromPatch(srv.Len(), 0, 0, "oh, ")
	if err := srv.RemoteFrom(remote, 5, [32]byte{7}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.Receive("phone", *e); err != nil {
		t.Fatal(err)
	}
	// Server text "oh, hello big world": the device's caret before "w" (6 at v0)
	// is at 14; as another member's caret it stays before "big " (10).
	own := func(e *Entry) bool { return e.Device == "phone" }
	if got, ok := srv.MapPos(v0, srv.Version(), 6, own); !ok || got != 14 {
		t.Fatalf("MapPos own = %d %v, want 14", got, ok)
	}
	if got, _ := srv.MapPos(v0, srv.Version(), 6, func(*Entry) bool { return false }); got != 10 {
		t.Fatalf("MapPos other = %d, want 10", got)
	}
	if _, ok := srv.MapPos(v0+9, srv.Version(), 0, own); ok {
		t.Fatal("MapPos past the history")
	}
}
