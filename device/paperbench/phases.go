package paperbench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/docsync/cloneservice"
)

// reference waits until the reference node's text holds every token typed
// into document 0 and returns the text's hash.
func (s *setup) reference(ctx context.Context) (string, error) {
	var h string
	err := poll(ctx, "every edit at the reference", func() bool {
		t, err := s.ref.svc.Text(s.docs[0])
		if err != nil {
			return false
		}
		n := 0
		for _, r := range t {
			if isToken(r) {
				n++
			}
		}
		h = textHash(t)
		return n == s.tokens
	})
	return h, err
}

func (s *setup) limit(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Limit)
}

// reports collects the windows of ps.
func (s *setup) reports(ps []*proc) ([]window, error) {
	var out []window
	for _, p := range ps {
		w, err := p.report(s.cfg.Limit)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// edit is phase 1: every device types EditsEach tokens into document 0
// at once; the phase ends when every device holds every edit.
func (s *setup) edit(ctx context.Context) (*phaseRun, error) {
	ctx, cancel := s.limit(ctx)
	defer cancel()
	if _, err := all(s.procs, "MARK", s.cfg.Limit); err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := all(s.procs, fmt.Sprintf("EDIT 0 %d sync", s.cfg.EditsEach), s.cfg.Limit); err != nil {
		return nil, err
	}
	s.tokens += len(s.procs) * s.cfg.EditsEach
	h, err := s.reference(ctx)
	if err != nil {
		return nil, err
	}
	ats, err := all(s.procs, "WAIT "+h, s.cfg.Limit)
	if err != nil {
		return nil, err
	}
	last := latest(ats)
	ws, err := s.reports(s.procs)
	if err != nil {
		return nil, err
	}
	return &phaseRun{Windows: ws, Wall: time.Since(start), Figure2: last.Sub(start)}, nil
}

func latest(ats []string) time.Time {
	var last time.Time
	for _, a := range ats {
		ns, _ := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
		if t := time.Unix(0, ns); t.After(last) {
			last = t
		}
	}
	return last
}

// update is phase 2: the last device goes away (its process ends; what it
// acknowledged is on its disk) while the others type UpdateEdits tokens
// each, then comes back (a new process on the same data). It is the one
// measured, from its start until its text is the document's. It stays a
// member through phases 3 and 4, which wait for it like for every other.
func (s *setup) update(ctx context.Context) (*phaseRun, error) {
	ctx, cancel := s.limit(ctx)
	defer cancel()
	last := len(s.procs) - 1
	away, others := s.procs[last], s.procs[:last]
	if _, err := all([]*proc{away}, "QUIT", s.cfg.Limit); err != nil {
		return nil, err
	}
	away.kill() // waits for the exit: the datastore is closed
	if _, err := all(others, fmt.Sprintf("EDIT 0 %d sync", s.cfg.UpdateEdits), s.cfg.Limit); err != nil {
		return nil, err
	}
	s.tokens += len(others) * s.cfg.UpdateEdits
	h, err := s.reference(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := all(others, "WAIT "+h, s.cfg.Limit); err != nil {
		return nil, err
	}
	start := time.Now()
	back, err := startProc(last, s.cfg.Device(), s.cfgs[last])
	if err != nil {
		return nil, err
	}
	s.procs[last] = back
	if s.mode == device.ModeDirect {
		if _, err := s.engineAddr(back); err != nil {
			return nil, err
		}
	}
	if _, err := back.expect("READY", s.cfg.Limit); err != nil {
		return nil, err
	}
	if s.mode == device.ModeDirect {
		if err := s.connect(last); err != nil {
			return nil, err
		}
	}
	ats, err := all([]*proc{back}, "WAIT "+h, s.cfg.Limit)
	if err != nil {
		return nil, err
	}
	ws, err := s.reports([]*proc{back})
	if err != nil {
		return nil, err
	}
	return &phaseRun{Windows: ws, Wall: time.Since(start), Figure2: latest(ats).Sub(start)}, nil
}

// check is phase 3: every device edits document 1, whose sequencer forks
// the log once it reaches a given seq; the devices type rounds of
// CheckEdits tokens until a member (clone or device engine) detects the
// fork, and the phase ends when every member holds the proof (within the
// phase's limit, or the run fails).
func (s *setup) check(ctx context.Context) (*phaseRun, error) {
	ctx, cancel := s.limit(ctx)
	defer cancel()
	if _, err := all(s.procs, "MARK", s.cfg.Limit); err != nil {
		return nil, err
	}
	start := time.Now()
	n, last := 0, start
	for n == 0 {
		if _, err := all(s.procs, fmt.Sprintf("EDIT 1 %d nosync", s.cfg.CheckEdits), s.cfg.Limit); err != nil {
			return nil, err
		}
		var err error
		if n, last, err = s.detected(ctx, 0, last); err != nil {
			return nil, err
		}
	}
	for n < len(s.procs) {
		m, at, err := s.detected(ctx, n, last)
		if err != nil {
			return nil, fmt.Errorf("paperbench: phase 3: %d of %d members detected the fork: %w", m, len(s.procs), err)
		}
		n, last = m, at
	}
	ws, err := s.reports(s.procs)
	if err != nil {
		return nil, err
	}
	return &phaseRun{Windows: ws, Wall: time.Since(start), Figure2: last.Sub(start), Detected: n}, nil
}

// detected waits up to detectWait for every member to hold a fork proof.
// It returns how many do and when that count was first seen (last if it
// did not grow beyond prev).
func (s *setup) detected(ctx context.Context, prev int, last time.Time) (int, time.Time, error) {
	halted := func() (int, error) {
		n := 0
		if s.mode == device.ModeClone {
			for _, c := range s.watch {
				if in, err := c.svc.Info(s.docs[1]); err == nil && in.Halted != nil {
					n++
				}
			}
			return n, nil
		}
		out, err := all(s.procs, "HALTED", s.cfg.Limit)
		for _, o := range out {
			if o == "1" {
				n++
			}
		}
		return n, err
	}
	wctx, cancel := context.WithTimeout(ctx, detectWait)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	n := prev
	for {
		m, err := halted()
		if err != nil {
			return n, last, err
		}
		if m > n {
			n, last = m, time.Now()
		}
		if n == len(s.procs) {
			return n, last, nil
		}
		select {
		case <-wctx.Done():
			return n, last, ctx.Err() // nil while the phase's own limit holds
		case <-t.C:
		}
	}
}

// detectWait is how long phase 3 waits for a further detection (fork
// proofs travel with head gossip, every 200 ms, and are repeated every 2 s).
const detectWait = 3 * time.Second

func (s *setup) waitClones(ctx context.Context, cs []*cloneNode, doc int, cond func(cloneservice.Info) bool) error {
	return poll(ctx, "every clone", func() bool {
		for _, c := range cs {
			in, err := c.svc.Info(s.docs[doc])
			if err != nil || !cond(in) {
				return false
			}
		}
		return true
	})
}

// removedUser is the user phase 4 removes of n: not the admin (user 0, in
// clone mode) nor the device that phase 2 restarted (the last), which must
// receive the new key like the others.
func removedUser(n int) int { return n - 2 }

// remove is phase 4: the admin removes removedUser and the document is
// rekeyed; the remaining devices are measured until each one's engine (or
// clone) holds the new key epoch.
func (s *setup) remove(ctx context.Context) (*phaseRun, error) {
	ctx, cancel := s.limit(ctx)
	defer cancel()
	gone := removedUser(len(s.procs))
	stay := slices.Delete(slices.Clone(s.procs), gone, gone+1)
	if _, err := all(stay, "MARK", s.cfg.Limit); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := s.ref.svc.Remove(ctx, s.docs[0], s.removed); err != nil {
		return nil, err
	}
	in, err := s.ref.svc.Info(s.docs[0])
	if err != nil {
		return nil, err
	}
	if s.mode == device.ModeDirect {
		if _, err := all(stay, fmt.Sprint("EPOCH ", in.Epoch), s.cfg.Limit); err != nil {
			return nil, err
		}
	} else if err := s.waitClones(ctx, slices.Delete(slices.Clone(s.watch), gone, gone+1), 0, func(i cloneservice.Info) bool { return i.Epoch >= in.Epoch }); err != nil {
		return nil, err
	}
	rekeyed := time.Since(start)
	ws, err := s.reports(stay)
	if err != nil {
		return nil, err
	}
	return &phaseRun{Windows: ws, Wall: time.Since(start), Figure2: rekeyed}, nil
}
