package jupiter

import (
	"testing"

	"github.com/clone2clone/c2c/docsync/ot"
)

func FuzzUnmarshalClient(f *testing.F) {
	s := NewServer(5, "hello", DefaultParams())
	c := NewClient()
	b0, _ := c.MarshalBinary()
	f.Add(b0)
	bd, _ := s.Bundle("d", c.Connect())
	_, _ = c.Resume(bd)
	op, _ := ot.FromPatch(5, 5, 0, "!")
	_, _ = c.Local(op)
	op, _ = ot.FromPatch(6, 0, 1, "J")
	_, _ = c.Local(op)
	b1, _ := c.MarshalBinary()
	f.Add(b1)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := UnmarshalClient(b)
		if err != nil {
			return
		}
		again, err := c.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded state does not encode: %v", err)
		}
		d, err := UnmarshalClient(again)
		if err != nil || d.Text() != c.Text() || d.Hello().Version != c.Hello().Version {
			t.Fatalf("round trip: %v", err)
		}
	})
}
