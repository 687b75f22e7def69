package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/clone2clone/c2c/control"
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
	row.Detail = fmt.Sprintf("%d registrations from one peer: %s; honest doc create %s", res.Tried, summary(res), okFailed(*row.HonestCreateOK))
	b.honestThenRestart(ctx, n, n.seq, row)
}

func okFailed(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAILED"
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

	var acked []string
	var killedAt time.Time
	b.measure(ctx, n.cloneA, row, func(ctx context.Context) {
		for i := range b.p.KillEdits {
			tok := fmt.Sprintf("<acked %d>", i+1)
			ectx, cancel := context.WithTimeout(ctx, b.p.honest)
			_, err := n.a.Edit(ectx, n.doc, control.EditRequest{Kind: control.EditAppend, Text: tok})
			cancel()
			if err != nil {
				row.note("edit %d on A not acknowledged: %v", i+1, err)
				break
			}
			acked = append(acked, tok)
		}
		pending := "?"
		if in, err := n.show(ctx, n.a); err == nil {
			pending = fmt.Sprint(in.Pending)
		}
		b.env.say("  %d edits acknowledged on A (pending at the kill: %s); kill -9 clone-a", len(acked), pending)
		killedAt = time.Now()
		took, err := n.restart(ctx, n.cloneA)
		row.RestartS = took.Seconds()
		if err != nil {
			row.note("after kill -9: %v", err)
			return
		}
		row.Restarted = true
		b.env.say("  clone-a back in %v", took.Round(time.Millisecond))
		got, err := n.waitDelivered(ctx, acked, b.p.honest)
		row.DeliveredEdits = ptr(got)
		if err != nil {
			row.note("acknowledged edits after the restart: %v", err)
			return
		}
		row.HonestEditOK = true
		row.DeliveryS = ptr(time.Since(killedAt).Seconds())
		b.env.say("  all %d acknowledged edits on B %.1fs after the kill", len(acked), *row.DeliveryS)
	})
	row.AckedEdits = ptr(len(acked))
	if row.Restarted {
		if took, err := n.honestEdit(ctx); err != nil {
			row.note("honest edit after the restart: %v", err)
		} else {
			row.RestartOK = true
			b.env.say("  honest device edit after the restart reached B in %v", took.Round(time.Millisecond))
		}
	}
	row.Detail = fmt.Sprintf("sequencer holds %d docs; %d edits acked on A before kill -9", docs, len(acked))
	if row.DeliveredEdits != nil {
		row.Detail += fmt.Sprintf(", %d reached B", *row.DeliveredEdits)
	}
	if row.DeliveryS != nil {
		row.Detail += fmt.Sprintf(" %.1fs after the kill", *row.DeliveryS)
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
