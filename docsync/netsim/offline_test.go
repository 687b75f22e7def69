package netsim

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// TestRecoverOfflineMember: 5 clones edit throughout against a sequencer
// that equivocates at seq 8, giving clone 1 alone a second branch. Clone
// 1 is cut from the admin's clone from the start; once a clone of the
// majority raised the alarm, it is cut off from everyone (every packet to
// and from it lost) until the others are on the standby: the
// admin's clone collects the reports and takes over without clone 1's,
// from a seq after clone 1's branch left. Back, clone 1 finds the
// takeover from a member and follows it across (FollowAcross). Every
// acknowledged edit, clone 1's from its abandoned branch too, is in the
// final text exactly once and in its author's order, and every clone is
// on the standby with the same text and chain; clone 1 restarted from its
// datastore is still there and edits.
func TestRecoverOfflineMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 10*time.Millisecond)
		var victims victimSet
		var byz *seqtest.Observed
		seqA := n.AddSequencer(victims.byzantine(sequencer.Equivocate, 8, &byz))
		standby := n.AddSequencer()
		params := cloneservice.DefaultParams()
		params.StallAfter = stallAfter
		logs := &recorder{}
		var clones []*Clone
		for i := range 5 {
			opts := []cloneservice.Option{cloneservice.WithParams(params)}
			switch i {
			case 0:
				opts = append(opts, cloneservice.WithStandby(standby.Info()))
			case 1:
				opts = append(opts, cloneservice.WithLogger(slog.New(logs)))
			}
			clones = append(clones, n.AddClone(opts...))
		}
		off := clones[1]
		victims.add(off.Svc.ID())
		d := n.NewDoc(seqA, clones...)
		// The admin's clone recovers as soon as it sees the alarm, and it
		// asks every member it reaches for its heads. Had clone 1 answered,
		// the agreed seq would be before its branch left and it would only
		// roll back; cut from the admin from the start, it cannot answer,
		// whatever the order of the alarm and the cut below.
		n.Partition([]*Peer{off.Peer}, []*Peer{clones[0].Peer})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()

		ws, stopWriters := startTokenWriters(ctx, t, d.ID, clones, false)
		alarmed := func() bool {
			for _, c := range clones[2:] {
				if in, err := c.Svc.Info(d.ID); err == nil && in.Halted != nil {
					return true
				}
			}
			in, err := clones[0].Svc.Info(d.ID)
			return err == nil && in.Halted != nil
		}
		WaitUntil(t, 2*time.Minute, "a majority clone raised the fork alarm", alarmed)
		var rest []*Peer
		for _, c := range clones {
			if c != off {
				rest = append(rest, c.Peer)
			}
		}
		n.Partition([]*Peer{off.Peer}, append(rest, seqA.Peer, standby.Peer))
		cutAt := time.Now()
		onStandby := func(cs []*Clone) func() bool {
			return func() bool {
				for _, c := range cs {
					if in, err := c.Svc.Info(d.ID); err != nil || in.Sequencer != standby.H.ID() || in.Halted != nil {
						return false
					}
				}
				return true
			}
		}
		var others []*Clone
		for _, c := range clones {
			if c != off {
				others = append(others, c)
			}
		}
		WaitUntil(t, 2*time.Minute, "the connected clones recovered onto the standby", onStandby(others))
		time.Sleep(2 * time.Second) // editing goes on on the standby without clone 1
		n.Heal()
		cut := time.Since(cutAt)
		WaitUntil(t, 3*time.Minute, "clone 1 followed the recovery", onStandby(clones))
		time.Sleep(2 * time.Second)
		stopWriters()
		acked := settleTokens(ctx, t, d, standby, clones, ws)
		if !logs.has("followed a takeover from another branch") {
			t.Fatalf("clone 1 did not follow across: %v", logs.all())
		}
		in, _ := clones[0].Svc.Info(d.ID)
		t.Logf("clone 1 cut off for %v (virtual); %d acknowledged edits (clone 1's %d), each once and in order; seq %d; clone 1: %s",
			cut.Round(time.Millisecond), acked, len(ws[1].acked), in.Seq, logs.line("followed a takeover from another branch"))

		// What clone 1 persisted when it followed across survives a restart.
		restartOnStandby(ctx, t, n, d, standby, params, ws, 1)
	})
}

// recorder is a slog handler that keeps every record's message and
// attributes (a test's look at what a clone logged).
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}

func (r *recorder) line(prefix string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func (r *recorder) has(prefix string) bool { return r.line(prefix) != "" }

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}
