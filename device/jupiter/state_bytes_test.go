package jupiter

import (
	"encoding/hex"
	"testing"

	"github.com/clone2clone/c2c/docsync/ot"
)

// TestStateBytes pins the persisted state's exact bytes (a device reads
// what an older build wrote): empty, synced, and with an edit in flight and
// one buffered.
func TestStateBytes(t *testing.T) {
	s := NewServer(5, "héllo", DefaultParams())
	c := NewClient()
	check := func(name, want string) {
		t.Helper()
		b, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != want {
			t.Errorf("%s: got\n%s\nwant\n%s", name, got, want)
		}
		d, err := UnmarshalClient(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if again, _ := d.MarshalBinary(); string(again) != string(b) {
			t.Errorf("%s: decode and encode again differ", name)
		}
	}
	check("empty", "01000000000000")
	bd, err := s.Bundle("d", c.Connect())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resume(bd); err != nil {
		t.Fatal(err)
	}
	check("synced", "010500000668c3a96c6c6f0668c3a96c6c6f00")
	op, _ := ot.FromPatch(5, 5, 0, "!")
	if _, err := c.Local(op); err != nil {
		t.Fatal(err)
	}
	op, _ = ot.FromPatch(6, 0, 1, "J")
	if _, err := c.Local(op); err != nil {
		t.Fatal(err)
	}
	check("pending", "01050001074ac3a96c6c6f210668c3a96c6c6f030100050102150621060103064a0715")
}
