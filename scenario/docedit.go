package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/docsync"
)

// editPhase edits for Duration: one edit at a time (the next after the
// previous one committed, so each entry holds exactly one edit and its
// submit time is known), with a random think time between edits. A
// churning clone leaves once and comes back DownFor later.
func (c *docClone) editPhase(ctx context.Context, churns bool) error {
	p := c.env.Params
	start := time.Now()
	end := start.Add(p.Duration)
	var leaveAt time.Time
	if churns {
		leaveAt = start.Add(p.Duration/10 + time.Duration(c.rng.Int64N(int64(p.Duration*4/10))))
	}
	for {
		wait := p.EditEvery/2 + time.Duration(c.rng.Int64N(int64(p.EditEvery)))
		next := time.Now().Add(wait)
		if churns && !c.left && next.After(leaveAt) {
			time.Sleep(time.Until(leaveAt))
			c.left = true
			c.stop()
			time.Sleep(p.DownFor)
			if err := c.start(ctx); err != nil {
				return fmt.Errorf("clone %d rejoins: %w", c.env.Index, err)
			}
			if err := c.follow(); err != nil {
				return err
			}
			c.rejoined = true
			continue
		}
		if next.After(end) {
			time.Sleep(time.Until(end))
			return nil
		}
		time.Sleep(wait)
		if halted := c.editOnce(ctx); halted {
			time.Sleep(time.Until(end)) // a forked document takes no edits
			return nil
		}
	}
}

// editOnce makes one edit and waits for its commit; it reports whether
// the document is halted (fork alarm).
func (c *docClone) editOnce(ctx context.Context) (halted bool) {
	t0 := time.Now()
	if err := c.svc.EditFunc(ctx, c.doc, randomEdit(c.rng)); err != nil {
		in, _ := c.svc.Info(c.doc)
		return in.Halted != nil
	}
	err := poll(ctx, c.env.Params.Timeout, func() error {
		in, err := c.svc.Info(c.doc)
		if err != nil {
			return err
		}
		if in.Halted != nil {
			halted = true
			return nil
		}
		if in.Pending {
			return errNotYet
		}
		return nil
	})
	if err == nil && !halted {
		c.submits = append(c.submits, t0)
	}
	return halted
}

// waitConverged waits until the clone holds the sequencer's final head
// with everything applied and nothing pending.
func (c *docClone) waitConverged(ctx context.Context, h docsync.Head) error {
	return poll(ctx, c.env.Params.Timeout, func() error {
		in, err := c.svc.Info(c.doc)
		if err != nil {
			return err
		}
		if in.Pending || in.Seq != h.Seq || in.Head != h.ChainHash || in.Applied != in.Seq {
			return fmt.Errorf("%w: clone at seq %d (applied %d, pending %v), sequencer at %d",
				errNotYet, in.Seq, in.Applied, in.Pending, h.Seq)
		}
		return nil
	})
}

// waitAlarm waits for the fork alarm (the event, or the document halted
// when the event went by while the clone was away).
func (c *docClone) waitAlarm(ctx context.Context) {
	_ = poll(ctx, c.env.Params.Timeout, func() error {
		c.mu.Lock()
		seen := !c.alarmAt.IsZero()
		c.mu.Unlock()
		if seen {
			return nil
		}
		if in, err := c.svc.Info(c.doc); err == nil && in.Halted != nil {
			c.mu.Lock()
			c.alarmAt = time.Now()
			c.mu.Unlock()
			return nil
		}
		return errNotYet
	})
}

// editSeqs returns the seqs of the committed edit entries in this clone's
// log, and of those, the ones authored by this clone in order. It is
// called once the edits are over (ackedEdits, then score), so the log is
// read once: reading and decoding each clone's log twice was 4% of an
// N=251 run's CPU.
func (c *docClone) editSeqs() (all map[uint64]bool, own []uint64, err error) {
	if c.finalSeqs != nil {
		return c.finalSeqs, c.finalOwn, nil
	}
	all, own, err = c.readEditSeqs()
	if err == nil {
		c.finalSeqs, c.finalOwn = all, own
	}
	return all, own, err
}

func (c *docClone) readEditSeqs() (all map[uint64]bool, own []uint64, err error) {
	in, err := c.svc.Info(c.doc)
	if err != nil {
		return nil, nil, err
	}
	all = map[uint64]bool{}
	const page = 10000
	for from := max(c.editsFrom, 1); from <= in.Seq; from += page {
		entries, err := c.svc.Log(c.doc, from, min(from+page-1, in.Seq))
		if err != nil {
			return nil, nil, err
		}
		for _, e := range entries {
			if e.Kind != docsync.KindEdit {
				continue
			}
			all[e.Seq] = true
			if e.Author == c.svc.ID() {
				own = append(own, e.Seq)
			}
		}
	}
	return all, own, nil
}

// editsBegin notes where the run's edits may start in this clone's log,
// once every instance has joined and before any edits: what comes before
// is the invitations' membership entries, the largest of the log (each
// carries a member's certificate and keys), and reading and decoding them
// in every clone was 5.7% of an N=1000 run's CPU. Were an edit ever to
// land before it, it would count as not delivered: a failure, never a
// false pass.
func (c *docClone) editsBegin() error {
	in, err := c.svc.Info(c.doc)
	if err != nil {
		return err
	}
	c.editsFrom = in.Seq + 1
	return nil
}

// ackedEdits pairs this clone's committed edits with their submit times.
func (c *docClone) ackedEdits() ([]ackedEdit, error) {
	_, own, err := c.editSeqs()
	if err != nil {
		return nil, err
	}
	n := min(len(own), len(c.submits))
	out := make([]ackedEdit, n)
	for i := range n {
		out[i] = ackedEdit{Seq: own[i], Submitted: c.submits[i]}
	}
	if len(own) != len(c.submits) {
		return out, fmt.Errorf("clone %d: %d own edits in the log, %d acknowledged", c.env.Index, len(own), len(c.submits))
	}
	return out, nil
}

// score counts which of the other clones' acked edits this clone holds and
// how long each took to arrive.
func (c *docClone) score(res *InstanceResult, gathered [][]byte) error {
	have, _, err := c.editSeqs()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.env.Params
	for i, raw := range gathered {
		if i == 0 || i == c.env.Index || p.docOf(i) != p.docOf(c.env.Index) {
			continue // the sequencer, this clone, another document
		}
		var edits []ackedEdit
		if err := json.Unmarshal(raw, &edits); err != nil {
			return fmt.Errorf("%w: edits of %d: %w", ErrGather, i, err)
		}
		for _, e := range edits {
			res.Expected++
			if have[e.Seq] {
				res.Delivered++
			}
			if at, ok := c.recv[e.Seq]; ok {
				res.EditLat = append(res.EditLat, at.Sub(e.Submitted))
			}
		}
	}
	return nil
}
