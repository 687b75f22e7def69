package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/internal/abuse"
	"github.com/libp2p/go-libp2p/core/host"
)

// The attacks of c2c bench abuse. Each runs on a fresh benchNet: measure
// the attack on its target, then check honest traffic and a restart.

// attackers starts k attacker hosts; stop closes them.
func attackers(k int) (hs []host.Host, stop func(), err error) {
	stop = func() {
		for _, h := range hs {
			h.Close()
		}
	}
	for range k {
		h, err := abuse.NewHost()
		if err != nil {
			stop()
			return nil, nil, err
		}
		hs = append(hs, h)
	}
	return hs, stop, nil
}

// summary renders an attack's stream counts and its commonest reason.
func summary(r abuse.Result) string {
	s := fmt.Sprintf("%d accepted, %d refused, %d errors", r.Accepted, r.Refused, r.Errors)
	if why, n := r.TopReason(); n > 0 {
		s += fmt.Sprintf(" (%d× %q)", n, why)
	}
	return s
}

// honestCreate runs c2c doc create on clone A, as its owner would.
func honestCreate(ctx context.Context, n *benchNet, row *attackRow) {
	_, err := n.run(ctx, "doc", "create", "--data", n.cloneA.dir, "--sequencer", n.seqAddr)
	row.HonestCreateOK = ptr(err == nil)
	if err != nil {
		row.note("honest doc create: %v", err)
	}
}

// runBaseline attacks nothing: the honest edit and the restart of the
// target alone, to tell an attack's damage from what a restart does anyway.
func runBaseline(ctx context.Context, b *abuseBench, n *benchNet, hs []host.Host, row *attackRow) {
	target := n.cloneA
	if row.Target == "sequencer" {
		target = n.seq
	}
	b.measure(ctx, target, row, func(context.Context) {})
	row.Detail = "no attack"
	b.honestThenRestart(ctx, n, target, row)
}

func runInviteFlood(ctx context.Context, b *abuseBench, n *benchNet, hs []host.Host, row *attackRow) {
	var res abuse.Result
	b.measure(ctx, n.cloneA, row, func(ctx context.Context) {
		res = abuse.InviteFlood(ctx, hs[0], n.aInfo, b.p.Invites)
	})
	row.Streams = &res
	b.env.say("  %d junk invitations in %.1fs: %s", res.Tried, res.Elapsed.Seconds(), summary(res))
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if docs, err := n.a.Docs(lctx); err == nil {
		row.TrackedDocs = ptr(len(docs))
	}
	cancel()
	honestCreate(ctx, n, row)
	row.Detail = fmt.Sprintf("%d invitations: %s", res.Tried, summary(res))
	if row.TrackedDocs != nil {
		row.Detail += fmt.Sprintf("; A tracks %d docs", *row.TrackedDocs)
	}
	b.honestThenRestart(ctx, n, n.cloneA, row)
}

func runSlowFrames(ctx context.Context, b *abuseBench, n *benchNet, hs []host.Host, row *attackRow) {
	var res abuse.Result
	b.measure(ctx, n.cloneA, row, func(ctx context.Context) {
		for w := range b.p.SlowWaves {
			if ctx.Err() != nil {
				break
			}
			r := slowWave(ctx, hs, n, b.p)
			b.env.say("  wave %d: %d streams opened, %s", w+1, r.Opened, summary(r))
			res.Merge(r)
		}
	})
	row.Streams = &res
	row.Detail = fmt.Sprintf("%d waves of %d streams announcing %s MiB from %d peers: %d opened, %d held for the whole %v, %s",
		b.p.SlowWaves, b.p.SlowStreams, mib(b.p.SlowAnnounce), len(hs), res.Opened, res.Accepted, b.p.slowHold, summary(res))
	b.env.say("  %s", row.Detail)
	b.honestThenRestart(ctx, n, n.cloneA, row)
}

// slowWave opens --slow-streams slow streams, spread evenly over the
// attacker hosts, and holds them for --slow-hold (or until the target ends
// them).
func slowWave(ctx context.Context, hs []host.Host, n *benchNet, p abuseParams) abuse.Result {
	ctx, cancel := context.WithTimeout(ctx, p.slowHold)
	defer cancel()
	var res abuse.Result
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, h := range hs {
		share := p.SlowStreams / len(hs) // the first ones take the remainder
		if i < p.SlowStreams%len(hs) {
			share++
		}
		wg.Go(func() {
			r := abuse.SlowFrames(ctx, h, n.aInfo, share, p.SlowAnnounce)
			mu.Lock()
			res.Merge(r)
			mu.Unlock()
		})
	}
	wg.Wait()
	return res
}

func runRegisterFlood(ctx context.Context, b *abuseBench, n *benchNet, hs []host.Host, row *attackRow) {
	var res abuse.Result
	b.measure(ctx, n.seq, row, func(ctx context.Context) { res = abuse.RegisterFlood(ctx, hs[0], n.seqInfo, b.p.Registrations) })
	row.Streams = &res
	b.env.say("  %d registrations from one peer in %.1fs: %s", res.Tried, res.Elapsed.Seconds(), summary(res))
	honestCreate(ctx, n, row)
	docs := 1 + res.Accepted // the shared document, then the attacker's
	if *row.HonestCreateOK {
		docs++
	}
	row.SequencerDocs = ptr(docs)
	row.Detail = fmt.Sprintf("%d registrations from one peer: %s", res.Tried, summary(res))
	if *row.HonestCreateOK {
		row.Detail += "; honest doc create ok"
	}
	b.honestThenRestart(ctx, n, n.seq, row)
}

// deref is *p, or def when p is nil.
func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func runKillClone(ctx context.Context, b *abuseBench, n *benchNet, hs []host.Host, row *attackRow) {
	// The load: the sequencer holds --kill-docs documents, all but the
	// shared one registered by one attacker. Not measured: register_flood is.
	if b.p.KillDocs > 1 {
		t0 := time.Now()
		actx, cancel := context.WithTimeout(ctx, b.p.attack)
		res := abuse.RegisterFlood(actx, hs[0], n.seqInfo, b.p.KillDocs-1)
		cancel()
		row.Streams = &res
		b.env.say("  loaded the sequencer with %d documents from one peer in %v (%s)", res.Accepted, time.Since(t0).Round(time.Millisecond), summary(res))
	}
	docs := 1
	if row.Streams != nil {
		docs += row.Streams.Accepted
	}
	row.SequencerDocs = ptr(docs)

	var acked, after []string
	var killedAt time.Time
	b.measure(ctx, n.cloneA, row, func(ctx context.Context) {
		// Edits keep coming (c2c doc edit's path) while clone A is killed,
		// as they would from a user: some are in flight or buffered then.
		app := &appender{name: "acked", client: n.a, doc: n.doc}
		app.start()
		_, err := pollFor(ctx, b.p.honest, fmt.Sprintf("%d edits acknowledged on A", b.p.KillEdits), func() (struct{}, bool, error) {
			return struct{}{}, app.count() >= b.p.KillEdits, nil
		})
		if err != nil {
			app.halt()
			row.note("%v", err)
			return
		}
		pending := "?"
		if in, err := n.show(ctx, n.a); err == nil {
			pending = fmt.Sprint(in.Pending)
		}
		onB := "?"
		var bText string
		if in, err := n.show(ctx, n.b); err == nil {
			bText, onB = in.Text, ""
		}
		killedAt = time.Now()
		acked = app.ackedBefore(killedAt)
		if onB == "" {
			on := 0
			for _, t := range acked {
				if strings.Contains(bText, t) {
					on++
				}
			}
			row.OnBAtKill = ptr(on)
			onB = fmt.Sprint(on)
		}
		b.env.say("  %d edits acknowledged on A (A pending: %s; already on B: %s); kill -9 clone-a while edits keep coming", len(acked), pending, onB)
		took, err := n.restart(ctx, n.cloneA)
		row.RestartS = took.Seconds()
		if err != nil {
			app.halt()
			row.note("after kill -9: %v", err)
			return
		}
		row.Restarted = true
		b.env.say("  clone-a back in %v", took.Round(time.Millisecond))
		// The user keeps typing on the restarted clone: --kill-edits more.
		more := len(acked) + b.p.KillEdits
		_, err = pollFor(ctx, b.p.honest, "edits acknowledged by the restarted A", func() (struct{}, bool, error) {
			return struct{}{}, app.count() >= more, nil
		})
		app.halt()
		if err != nil {
			row.note("%v", err)
		}
		app.mu.Lock()
		after = append(after, app.acked[len(acked):]...)
		app.mu.Unlock()
		got, err := n.waitDelivered(ctx, acked, b.p.honest)
		row.DeliveredEdits = ptr(got)
		if err != nil {
			row.note("edits acked before the kill: %v", err)
			return
		}
		row.HonestEditOK = true
		row.DeliveryS = ptr(time.Since(killedAt).Seconds())
		b.env.say("  all %d edits acknowledged before the kill on B %.1fs after it", len(acked), *row.DeliveryS)
	})
	row.AckedEdits, row.AckedAfterRestart = ptr(len(acked)), ptr(len(after))
	if row.Restarted {
		got, err := n.waitDelivered(ctx, after, b.p.honest)
		row.DeliveredAfterRestart = ptr(got)
		if err != nil {
			row.note("edits acked after the restart: %v", err)
		} else if took, err := n.honestEdit(ctx); err != nil {
			row.note("honest edit after the restart: %v", err)
		} else {
			row.RestartOK = true
			b.env.say("  edits acked after the restart and a device edit (%v) reached B", took.Round(time.Millisecond))
		}
	}
	row.Detail = fmt.Sprintf("sequencer holds %d docs; %d edits acked on A before kill -9 (%d of them on B then)", docs, len(acked), deref(row.OnBAtKill, -1))
	if row.DeliveredEdits != nil {
		row.Detail += fmt.Sprintf(", %d reached B", *row.DeliveredEdits)
	}
	if row.DeliveryS != nil {
		row.Detail += fmt.Sprintf(" %.1fs after the kill", *row.DeliveryS)
	}
	if row.DeliveredAfterRestart != nil {
		row.Detail += fmt.Sprintf("; %d acked after the restart, %d reached B", len(after), *row.DeliveredAfterRestart)
	}
}

func runHistoryFetch(ctx context.Context, b *abuseBench, n *benchNet, hs []host.Host, row *attackRow) {
	var doc docsync.DocID
	if _, err := hex.Decode(doc[:], []byte(n.doc)); err != nil {
		row.note("document ID %q: %v", n.doc, err)
		return
	}
	var fromSeq, fromClone abuse.Result
	b.measure(ctx, n.seq, row, func(ctx context.Context) {
		fromSeq = abuse.HistoryFetch(ctx, hs[0], n.seqInfo, doc)
		fromClone = abuse.HistoryFetch(ctx, hs[0], n.aInfo, doc)
	})
	res := fromSeq
	res.Merge(fromClone)
	row.Streams = &res
	row.ServedBySequencer, row.ServedByClone = ptr(fromSeq.Items), ptr(fromClone.Items)
	row.HistoryRefused = ptr(fromSeq.Items == 0 && fromClone.Items == 0)
	var parts []string
	for _, x := range []struct {
		who string
		r   abuse.Result
	}{{"sequencer", fromSeq}, {"clone A", fromClone}} {
		if x.r.Items > 0 {
			parts = append(parts, fmt.Sprintf("%s served %d entries", x.who, x.r.Items))
		} else {
			why, _ := x.r.TopReason()
			parts = append(parts, fmt.Sprintf("%s refused (%s)", x.who, why))
		}
	}
	row.Detail = "non-member history request: " + strings.Join(parts, ", ")
	b.env.say("  %s", row.Detail)
	b.honestThenRestart(ctx, n, n.seq, row)
}
