package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/ot"
)

// demoDormantAfter is how long the demo's documents stay quiet before
// their members go dormant: a clone's default (a minute) is longer than
// the whole demo.
const demoDormantAfter = 4 * time.Second

// demoDocParams are the demo clones' document parameters: the defaults,
// with demoDormantAfter.
func demoDocParams() cloneservice.Params {
	p := cloneservice.DefaultParams()
	p.DormantAfter = demoDormantAfter
	return p
}

// showDormant waits until every live member of the main document has put
// it to sleep (no new entry for demoDormantAfter: out of its gossipsub
// meshes, no head gossip, no ticks), then edits it at clone 0 and times
// the edit's arrival at every other member, each woken by its feed.
func (d *docDemo) showDormant(ctx context.Context, doc docsync.DocID, live []*cloneservice.Service) error {
	if len(live) < 2 {
		return nil
	}
	dormant := func() int {
		n := 0
		for _, svc := range live {
			if in, err := svc.Info(doc); err == nil && in.Dormant {
				n++
			}
		}
		return n
	}
	ctx, cancel := context.WithTimeout(ctx, demoDormantAfter+30*time.Second)
	defer cancel()
	t := time.Now()
	if err := poll(ctx, "dormant members", func() bool { return dormant() == len(live) }); err != nil {
		return fmt.Errorf("dormant: %d of %d members asleep: %w", dormant(), len(live), err)
	}
	asleep := time.Since(t)
	const mark = "[woken]"
	sent := time.Now()
	atStart := func(n int) ([]ot.Op, error) {
		op, err := ot.FromPatch(n, 0, 0, mark)
		return []ot.Op{op}, err
	}
	if err := live[0].EditFunc(ctx, doc, atStart); err != nil {
		return fmt.Errorf("dormant: edit: %w", err)
	}
	if err := poll(ctx, "the edit at every member", func() bool {
		for _, svc := range live {
			if text, err := svc.Text(doc); err != nil || !strings.Contains(text, mark) {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("dormant: %w", err)
	}
	woke := time.Since(sent)
	fmt.Fprintf(d.w, "  %-28s %d/%d members asleep %v after the presence step (%v without a new entry): out of the document's gossipsub meshes, no head gossip, no ticks; an edit at clone 0 woke them and was at every member after %v\n",
		"dormant when idle", len(live), len(live), asleep.Round(100*time.Millisecond), demoDormantAfter, woke.Round(time.Millisecond))
	return nil
}
