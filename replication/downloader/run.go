package downloader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/clone2clone/c2c/replication/downloads"
	"github.com/ipfs/go-datastore"
)

// run takes one job to its end: fetch (resuming what a previous run
// kept), store, scan, relay "file cached" or "failed". It returns early
// only when the service closes; the next Start picks the job up again.
func (s *Service) run(j job) {
	sp := &dsSpool{ctx: s.ctx, ds: s.ds, job: j.key()}
	result, err := s.ds.Get(s.ctx, resultKey(j.key()))
	if errors.Is(err, datastore.ErrNotFound) {
		c := s.fetch(j, sp)
		if c == nil {
			return // closing
		}
		result = c.Marshal()
		if err := sp.finish(result); err != nil {
			s.log.Warn("downloader: cannot keep the result", "job", j.key(), "err", err)
			return
		}
	} else if err != nil {
		s.log.Warn("downloader: cannot read the result", "job", j.key(), "err", err)
		return
	}
	// The relay is durable when it returns; a crash before relayed() relays
	// again, and the app ignores the second copy.
	for attempt := 0; ; attempt++ {
		if err = s.mirror.Relay(s.ctx, downloads.Name, result); err == nil {
			break
		}
		s.log.Info("downloader: relay failed, will retry", "job", j.key(), "err", err)
		if !s.sleep(s.backoff(attempt)) {
			return
		}
	}
	s.count(func(st *Stats) { st.Relayed++ })
	if err := sp.relayed(); err != nil {
		s.log.Warn("downloader: cannot record the relay", "job", j.key(), "err", err)
	}
}

// fetch downloads j into the blob store and scans it; it returns the
// network input to relay, or nil if the service closes first.
func (s *Service) fetch(j job, sp *dsSpool) *downloads.Cached {
	fail := func(err error) *downloads.Cached {
		reason := err.Error()
		if len(reason) > downloads.MaxReasonBytes {
			reason = reason[:downloads.MaxReasonBytes]
		}
		s.report(j.id, func(r *Report) { r.State, r.Err = StateFailed, reason })
		s.count(func(st *Stats) { st.Failed++ })
		s.log.Info("downloader: failed", "job", j.key(), "url", redacted(j.url), "err", err)
		return &downloads.Cached{ID: j.id, Try: j.try, Reason: reason}
	}
	p, err := sp.load()
	if err != nil {
		return fail(err)
	}
	var before uint64
	first := false // the first progress of a request tells a resume from a restart
	seen := func(n Progress) {
		if first && before > 0 {
			s.count(func(st *Stats) {
				if n.Offset == before {
					st.Resumed++
				} else {
					st.Restarted++
				}
			})
		}
		if n.Offset > p.Offset {
			s.count(func(st *Stats) { st.Bytes += n.Offset - p.Offset })
		}
		first = false
		p = n
		s.report(j.id, func(r *Report) { r.State, r.Done, r.Total = StateFetching, int64(n.Offset), n.Total })
	}
	s.report(j.id, func(r *Report) { r.State, r.Done, r.Total = StateFetching, int64(p.Offset), p.Total })
	s.count(func(st *Stats) { st.Started++ })
	ctx, cancel := context.WithTimeout(s.ctx, s.params.MaxDuration)
	defer cancel()
	tooSlow := func() *downloads.Cached {
		return fail(fmt.Errorf("%w: not done in %v (%d bytes kept)", ErrTooSlow, s.params.MaxDuration, p.Offset))
	}
	for fruitless := 0; ; {
		s.report(j.id, func(r *Report) { r.Attempts++ })
		s.count(func(st *Stats) { st.Requests++ })
		before, first = p.Offset, true
		p, err = fetchOnce(ctx, s.client, s.params, j.url, p, sp, seen)
		if s.ctx.Err() != nil {
			return nil
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return tooSlow()
		}
		if !errors.Is(err, ErrInterrupted) {
			return fail(err)
		}
		s.report(j.id, func(r *Report) { r.Err = err.Error() })
		if p.Offset > before {
			fruitless = 0
		} else if fruitless++; fruitless >= s.params.MaxAttempts {
			return fail(fmt.Errorf("%d attempts in a row without a byte: %w", fruitless, err))
		}
		s.log.Debug("downloader: interrupted, resuming", "job", j.key(), "at", p.Offset, "err", err)
		if !s.sleep(s.backoff(fruitless)) {
			return nil
		}
		if ctx.Err() != nil {
			return tooSlow()
		}
	}
	data, err := sp.content(p)
	if err != nil {
		return fail(err)
	}
	ref, err := s.blobs.Add(data)
	if err != nil {
		return fail(err)
	}
	s.report(j.id, func(r *Report) { r.State = StateScanning })
	v, err := s.scanner.Scan(s.ctx, ref, func() (io.ReadCloser, error) {
		b, err := s.blobs.Read(ref)
		return io.NopCloser(bytes.NewReader(b)), err
	})
	if s.ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fail(fmt.Errorf("scan: %w", err))
	}
	s.report(j.id, func(r *Report) { r.State, r.Err = StateCached, "" })
	s.count(func(st *Stats) { st.Cached++ })
	s.log.Info("downloader: cached", "job", j.key(), "url", redacted(j.url), "bytes", ref.Size, "cid", ref.CID, "infected", v.Infected)
	return &downloads.Cached{ID: j.id, Try: j.try, Ref: ref, Verdict: v}
}

func (s *Service) backoff(attempt int) time.Duration {
	d := s.params.RetryMin
	for i := 0; i < attempt && d < s.params.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.params.RetryMax)
}

// sleep waits d, or returns false when the service closes.
func (s *Service) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// redacted is a URL as logs show it: a password in it is the user's, not
// the operator's to read.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
