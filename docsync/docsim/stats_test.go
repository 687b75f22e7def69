package docsim

import (
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

func TestScenarioStats(t *testing.T) {
	s := Scenario{Seed: 7, Clones: 9, Initial: 4, Ticks: 60, EditProb: 0.3, Membership: true}
	res := runConverge(t, s)
	kinds := map[docsync.EventKind]int{}
	for _, c := range res.Net.Clones {
		for _, ev := range c.Events {
			kinds[ev.Kind]++
		}
	}
	c0 := res.Net.Clones[0].Replica
	t.Logf("edits %d seq %d epoch %d members %d removed %v events %v", res.Edits, c0.Log().Seq(),
		c0.Log().Membership().Epoch(), len(c0.Log().Membership().Members()), res.Removed, kinds)
	for idx := range res.Removed {
		r := res.Net.Clones[idx].Replica
		t.Logf("removed %d applied %d of %d", idx, r.Applied(), r.Log().Seq())
	}
}
