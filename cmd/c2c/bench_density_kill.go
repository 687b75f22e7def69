package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// densityKillResult is what c2c bench density --kill adds (issue 16's
// kill -9 of a provider process hosting many clones).
type densityKillResult struct {
	KilledClones    int     `json:"killed_clones"`     // clones hosted by provider 0 when it was killed
	Back            int     `json:"back"`              // of them, hosted again under their peer ID, with their documents, and published
	FoundAfter      int     `json:"found_after"`       // of them, found by a lookup from another clone after the restart
	KillEditors     int     `json:"kill_editors"`      // devices typing through the kill
	AckedEdits      int     `json:"acked_edits"`       // edits those devices saw acknowledged, before, during and after the kill
	AckedBeforeKill int     `json:"acked_before_kill"` // of them, acknowledged before the SIGKILL
	LostEdits       int     `json:"lost_edits"`        // acknowledged edits missing (or doubled) at some member
	Members         int     `json:"members"`           // clones of the document checked
	RestartS        float64 `json:"restart_s"`         // restart until every killed clone is back and published
}

// killPhase kills provider 0 with SIGKILL while --kill-editors devices
// type, restarts it on its data dir and checks that every clone it hosted
// comes back with its state and record, and that no edit a device saw
// acknowledged is lost at any member of the document.
func (r *densityRun) killPhase(ctx context.Context) error {
	if !r.f.kill {
		return nil
	}
	kr := &densityKillResult{KillEditors: r.f.killEditors, Members: r.f.devices}
	r.res.densityKillResult = kr
	// What provider 0 hosts before the kill: peer ID -> documents.
	before, err := r.hostedDocs(ctx, 0)
	if err != nil {
		return err
	}
	kr.KilledClones = len(before)

	eds := make([]*deviceEditor, r.f.killEditors)
	for i := range eds {
		eds[i] = &deviceEditor{r: r, k: i}
		eds[i].start(ctx)
	}
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			for _, e := range eds {
				e.halt()
			}
		}
	}
	defer halt()
	allAcked := func(what string, since time.Time, n int) error {
		_, err := pollEvery(ctx, time.Second, 5*time.Minute, what, func() (struct{}, bool, error) {
			for _, e := range eds {
				if len(e.ackedIn(since, time.Now())) < n {
					return struct{}{}, false, nil
				}
			}
			return struct{}{}, true, nil
		})
		return err
	}
	if err := allAcked(fmt.Sprintf("every editing device has %d edits acknowledged", r.f.killAfter), time.Time{}, r.f.killAfter); err != nil {
		return err
	}
	prov := r.provs[0]
	killedAt := time.Now()
	prov.kill()
	for _, e := range eds {
		kr.AckedBeforeKill += len(e.ackedIn(time.Time{}, killedAt))
	}
	r.say("provider-0 killed with SIGKILL (%d clones, %d edits acknowledged); restarting it", kr.KilledClones, kr.AckedBeforeKill)
	restartAt := time.Now()
	if err := prov.restart(); err != nil {
		return err
	}
	bar := newNamedProgressBar(r.g.stderr, "c2c bench density")
	_, err = pollEvery(ctx, time.Second, time.Duration(kr.KilledClones)*200*time.Millisecond+2*time.Minute,
		"every killed clone is back and published", func() (struct{}, bool, error) {
			if gone, err := prov.exited(); gone {
				return struct{}{}, false, fmt.Errorf("%s exited (%v) after its restart; its log: %s%s", prov.name, err, prov.log, prov.lastLines(2))
			}
			kr.Back = r.back(ctx, before)
			bar.step(kr.Back, kr.KilledClones, "killed clones back")
			return struct{}{}, kr.Back == kr.KilledClones, nil
		})
	bar.done()
	kr.RestartS = time.Since(restartAt).Seconds()
	if err != nil {
		r.res.Notes = append(r.res.Notes, err.Error())
	}
	r.say("%d/%d killed clones back after %.1f s", kr.Back, kr.KilledClones, kr.RestartS)
	// The devices keep typing until each has had an edit acknowledged by
	// the restarted clones too.
	if err := allAcked("every editing device has an edit acknowledged after the restart", time.Now(), 1); err != nil {
		r.res.Notes = append(r.res.Notes, err.Error())
	}
	halt()
	var acked []string
	for _, e := range eds {
		acked = append(acked, e.ackedIn(time.Time{}, time.Now())...)
	}
	kr.AckedEdits = len(acked)

	var killed []int
	for k, c := range r.clones {
		if c.prov == 0 {
			killed = append(killed, k)
		}
	}
	found, _, firstErr := r.lookUp(ctx, killed, "lookups after the restart")
	kr.FoundAfter = found
	if firstErr != nil {
		r.res.Notes = append(r.res.Notes, "after the restart, first failed lookup: "+firstErr.Error())
	}
	kr.LostEdits = r.lostEdits(ctx, acked)
	r.say("%d/%d found again; %d edits acknowledged, %d lost", kr.FoundAfter, len(killed), kr.AckedEdits, kr.LostEdits)
	return ctx.Err()
}

// hostedDocs lists provider i's hosted clones: peer ID -> documents held.
func (r *densityRun) hostedDocs(ctx context.Context, i int) (map[string]int, error) {
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	infos, err := r.admins[i].Clones(qctx)
	if err != nil {
		return nil, fmt.Errorf("provider-%d's clones: %w", i, err)
	}
	out := make(map[string]int, len(infos))
	for _, in := range infos {
		out[in.Peer] = in.Docs
	}
	return out, nil
}

// back counts the clones of before that provider 0 hosts again, published
// and with as many documents as before.
func (r *densityRun) back(ctx context.Context, before map[string]int) int {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	infos, err := r.admins[0].Clones(qctx)
	cancel()
	if err != nil {
		return 0 // not answering yet
	}
	n := 0
	for _, in := range infos {
		if docs, ok := before[in.Peer]; ok && in.Published && in.Docs == docs {
			n++
		}
	}
	return n
}

// lostEdits waits (bounded) until every member of the document holds
// every acknowledged token exactly once, and counts the tokens that some
// member still lacks (or holds twice) when it gives up.
func (r *densityRun) lostEdits(ctx context.Context, acked []string) int {
	members := r.clones[:r.f.devices]
	bad := map[string]bool{}
	_, err := pollEvery(ctx, 2*time.Second, 3*time.Minute, "every acknowledged edit at every member", func() (struct{}, bool, error) {
		clear(bad)
		for _, c := range members {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			in, err := c.control.Show(sctx, r.doc)
			cancel()
			for _, tok := range acked {
				if err != nil || strings.Count(in.Text, tok) != 1 {
					bad[tok] = true
				}
			}
		}
		return struct{}{}, len(bad) == 0, nil
	})
	if err != nil {
		r.res.Notes = append(r.res.Notes, err.Error())
	}
	return len(bad)
}

// deviceEditor is one device of the sample typing through the kill: c2c
// device type, one token a call, calls back to back. A call that returned
// success is an edit the device saw acknowledged.
type deviceEditor struct {
	r *densityRun
	k int // the clone whose device it is

	mu      sync.Mutex
	acked   []string
	ackedAt []time.Time
	stop    chan struct{}
	done    chan struct{}
}

func (e *deviceEditor) start(ctx context.Context) {
	e.stop, e.done = make(chan struct{}), make(chan struct{})
	c := e.r.clones[e.k]
	go func() {
		defer close(e.done)
		for n := 1; ; n++ {
			select {
			case <-e.stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			tok := fmt.Sprintf("<e%05d.%d>", e.k, n)
			_, err := runCommand(ctx, e.r.bin, e.r.cmdLog, 2*time.Minute, "device", "type", "--data", c.devDir,
				"--log-level", "warn", e.r.doc, tok)
			if err == nil {
				e.mu.Lock()
				e.acked = append(e.acked, tok)
				e.ackedAt = append(e.ackedAt, time.Now())
				e.mu.Unlock()
			}
		}
	}()
}

// halt stops the editor after its call in flight.
func (e *deviceEditor) halt() {
	close(e.stop)
	<-e.done
}

// ackedIn is the tokens acknowledged in [from, to).
func (e *deviceEditor) ackedIn(from, to time.Time) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for i, at := range e.ackedAt {
		if !at.Before(from) && at.Before(to) {
			out = append(out, e.acked[i])
		}
	}
	return out
}

func printDensityKill(w io.Writer, k *densityKillResult) {
	fmt.Fprintf(w, "%-40s %14d %10s\n", "kill -9: clones in the killed provider", k.KilledClones, "")
	fmt.Fprintf(w, "%-40s %14d %10s\n", "  back with their state, published", k.Back, fmt.Sprint(k.KilledClones))
	fmt.Fprintf(w, "%-40s %12.1f s %10s\n", "  restart until every one is back", k.RestartS, "")
	fmt.Fprintf(w, "%-40s %14d %10s\n", "  found again by a lookup", k.FoundAfter, fmt.Sprint(k.KilledClones))
	fmt.Fprintf(w, "%-40s %14s %10s\n", "  edits acknowledged (before the kill)", fmt.Sprintf("%d (%d)", k.AckedEdits, k.AckedBeforeKill), "")
	fmt.Fprintf(w, "%-40s %14d %10s\n", fmt.Sprintf("  lost at one of %d members", k.Members), k.LostEdits, "0")
}
