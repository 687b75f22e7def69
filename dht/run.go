package dht

import (
	"context"
	"errors"
	"time"
)

// Run does the directory's background work until ctx is done or Close is
// called: it republishes this node's own records (at once, then every
// RepublishInterval, retrying failures every RetryInterval) and, on a
// provider, consumes record gossip and pulls from the other providers
// (at once, then every ReplicaSyncInterval). Run it in its own goroutine;
// it uses the runtime's timers, so tests drive it with testing/synctest.
func (d *Directory) Run(ctx context.Context) {
	if !d.running.CompareAndSwap(false, true) {
		d.log.Error("Run called twice")
		return
	}
	defer close(d.runDone)
	if d.ctx.Err() != nil {
		return // closed before Run
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(d.ctx, cancel)
	defer stop()

	if d.opts.replica && d.topic != nil {
		sub, err := d.topic.Subscribe()
		if err != nil {
			d.log.Error("subscribe to record gossip", "err", err)
		} else {
			done := make(chan struct{})
			go func() { defer close(done); d.consumeGossip(ctx, sub) }()
			defer func() { sub.Cancel(); <-done }()
		}
	}

	republish := time.NewTimer(0)
	defer republish.Stop()
	var syncTimer *time.Timer
	if d.opts.replica {
		syncTimer = time.NewTimer(0)
		defer syncTimer.Stop()
	}
	d.loop(ctx, republish, syncTimer)
}

func (d *Directory) loop(ctx context.Context, republish, syncTimer *time.Timer) {
	var syncC <-chan time.Time
	if syncTimer != nil {
		syncC = syncTimer.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-republish.C:
			next := d.opts.params.RepublishInterval
			if err := d.republishAll(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				d.log.Warn("republish incomplete; will retry", "err", err)
				next = d.opts.params.RetryInterval
			}
			republish.Reset(next)
		case <-syncC:
			next := d.opts.params.ReplicaSyncInterval
			if d.syncAll(ctx) == 0 {
				next = d.opts.params.RetryInterval // nobody to pull from yet
			}
			d.store.prune(ctx)
			syncTimer.Reset(next)
		}
	}
}

// republishAll re-puts every own record that is still valid. The record
// bytes are re-sent as signed: a clone never holds the user key.
func (d *Directory) republishAll(ctx context.Context) error {
	var errs []error
	for _, key := range d.store.ownKeys() {
		raw, err := d.store.get(ctx, key)
		if err != nil {
			continue // expired: only the user can renew it
		}
		if err := d.announce(ctx, key, raw); err != nil {
			d.stats.republishFailed.Add(1)
			errs = append(errs, err)
			continue
		}
		d.stats.republished.Add(1)
	}
	return errors.Join(errs...)
}

// syncAll pulls from every known provider (anti-entropy) and returns how
// many it completed a sync with.
func (d *Directory) syncAll(ctx context.Context) int {
	done := 0
	for _, p := range d.replicaPeers() {
		n, err := d.syncFrom(ctx, p)
		if err != nil {
			d.log.Debug("replica sync failed", "from", p, "err", err)
			continue
		}
		done++
		if n > 0 {
			d.log.Debug("replica sync pulled records", "from", p, "records", n)
		}
	}
	return done
}
