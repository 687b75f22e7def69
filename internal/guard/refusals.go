package guard

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Refusals counts and logs the refusals of one service. Safe for
// concurrent use.
type Refusals struct {
	log      *slog.Logger
	what     string
	interval time.Duration
	now      func() time.Time
	vec      *prometheus.CounterVec

	mu       sync.Mutex
	byReason map[string]*atomic.Uint64
	lastLog  map[string]time.Time // peer -> last info line
}

// maxLogged caps the peers whose last log line is remembered; past it the
// oldest entries are forgotten (they only rate-limit the log).
const maxLogged = 4096

// NewRefusals returns the refusal counter of a service: what names it in
// log lines ("invitation", "registration", ...), subsystem is its
// Prometheus subsystem (metric c2c_<subsystem>_refusals_total{reason}).
// now is the clock (time.Now in production).
func NewRefusals(log *slog.Logger, subsystem, what string, interval time.Duration, now func() time.Time) *Refusals {
	return &Refusals{log: log, what: what, interval: interval, now: now,
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "c2c", Subsystem: subsystem,
			Name: "refusals_total", Help: "Requests and messages refused, by reason."}, []string{"reason"}),
		byReason: map[string]*atomic.Uint64{}, lastLog: map[string]time.Time{}}
}

// Collector is the Prometheus counter vector (register it with the
// service's other collectors).
func (r *Refusals) Collector() prometheus.Collector { return r.vec }

// Refuse counts one refusal of peer's request for reason (a short, fixed
// word: it becomes a metric label) and logs it at info unless this peer was
// logged less than the interval ago. err may be nil.
func (r *Refusals) Refuse(peer, reason string, err error) {
	r.vec.WithLabelValues(reason).Inc()
	now := r.now()
	r.mu.Lock()
	c := r.byReason[reason]
	if c == nil {
		c = &atomic.Uint64{}
		r.byReason[reason] = c
	}
	c.Add(1)
	last, seen := r.lastLog[peer]
	logIt := !seen || now.Sub(last) >= r.interval
	if logIt {
		if len(r.lastLog) >= maxLogged {
			for p, t := range r.lastLog {
				if now.Sub(t) >= r.interval {
					delete(r.lastLog, p)
				}
			}
			if len(r.lastLog) >= maxLogged {
				r.lastLog = map[string]time.Time{}
			}
		}
		r.lastLog[peer] = now
	}
	r.mu.Unlock()
	if logIt {
		msg := ""
		if err != nil {
			msg = err.Error()
			if len(msg) > 200 {
				msg = msg[:200]
			}
		}
		r.log.Info(r.what+" refused (further refusals of this peer are counted, not logged, for a while)",
			"peer", peer, "reason", reason, "err", msg, "quiet_for", r.interval)
	}
}

// Counts returns the refusals so far by reason.
func (r *Refusals) Counts() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]uint64, len(r.byReason))
	for k, v := range r.byReason {
		out[k] = v.Load()
	}
	return out
}
