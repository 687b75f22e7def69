package docsim

import (
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

// checkRemoved asserts that a removed clone holds no key of any epoch after
// its removal and cannot open any later edit.
func checkRemoved(t *testing.T, s Scenario, res *Result) {
	t.Helper()
	for idx := range res.Removed {
		c := res.Net.Clones[idx]
		r := c.Replica
		latest := r.Log().Membership().Epoch()
		if r.HasEpochKey(latest) {
			t.Fatalf("seed %d: removed clone %d holds the key of epoch %d", s.Seed, idx, latest)
		}
		locked := false
		for _, ev := range c.Events {
			if ev.Kind == docsync.EventLocked && errors.Is(ev.Err, docsync.ErrNoEpochKey) {
				locked = true
			}
		}
		later := 0
		for _, e := range c.Committed {
			if e.Envelope.Kind == docsync.KindEdit && e.Envelope.Epoch == latest {
				later++
			}
		}
		if later > 0 && (!locked || r.Applied() >= r.Log().Seq()) {
			t.Fatalf("seed %d: removed clone %d applied post-removal edits (applied %d of %d)",
				s.Seed, idx, r.Applied(), r.Log().Seq())
		}
		if _, ok := r.Log().Membership().Get(r.ID()); ok {
			t.Fatalf("seed %d: removed clone %d still a member", s.Seed, idx)
		}
	}
}
