package replication_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/notes"
)

// flaky is the notes app with a nondeterministic side: once armed, its next
// Apply also writes a note the event does not say (as an app that read a
// clock or a random number would). Only the mirror runs it.
type flaky struct {
	*notes.App
	armed bool
	fired uint64 // the seq of the event it misapplied
}

func (f *flaky) Apply(ev *replication.Event) ([]replication.Output, error) {
	outs, err := f.App.Apply(ev)
	if f.armed && err == nil {
		f.armed, f.fired = false, ev.Seq
		junk := replication.Event{Time: ev.Time, Payload: notes.Put("junk", []byte(fmt.Sprint(ev.Time)))}
		_, _ = f.App.Apply(&junk)
	}
	return outs, err
}

// factory builds a template whose notes app holds 400 factory notes (about
// 70 KB): the state a resync must not move whole.
func factory(t testing.TB) (*replication.Template, *replication.MemStore) {
	set := mustSet(t, notesRegistry(t))
	n := notesOf(set, "notes")
	for i := range 400 {
		ev := replication.Event{Payload: notes.Put(fmt.Sprintf("factory-%03d", i), make([]byte, 160))}
		if _, err := n.Apply(&ev); err != nil {
			t.Fatal(err)
		}
	}
	store := replication.NewMemStore()
	tmpl, err := replication.BuildTemplate("phone-x1", 1, set, store, factoryKey)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl, store
}

func fromTemplate(t testing.TB, tmpl *replication.Template, reg *replication.Registry, src replication.ChunkReader) *replication.AppSet {
	s, err := tmpl.NewAppSet(reg, src)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type fault struct {
	name string
	// arm injects the fault at time now.
	arm func(p *pair, f *flaky, now replication.Time)
	// detectAt returns the batch the divergence must name (0: unknown).
	detectAt func(p *pair, f *flaky) uint64
	apps     []string // the apps that must be named, nil for any
}

// TestDivergenceRepaired injects a divergence three ways. Each is detected
// at the next batch, named with its cause, repaired by a resync that moves
// only the differing chunks (fewer bytes than the state), and replay then
// goes on matching; at the end the mirror holds every input of the device.
func TestDivergenceRepaired(t *testing.T) {
	var lost uint64
	var corrupted uint64
	faults := []fault{{
		name: "nondeterministic app",
		arm:  func(p *pair, f *flaky, now replication.Time) { f.armed = true },
		detectAt: func(p *pair, f *flaky) uint64 {
			if f.fired == 0 {
				return 0
			}
			return p.batchWith(f.fired)
		},
		apps: []string{"notes"},
	}, {
		name: "lost batch",
		arm: func(p *pair, f *flaky, now replication.Time) {
			p.dropBatch = func(n uint64) bool {
				if lost == 0 {
					lost = n
				}
				return n == lost
			}
		},
		detectAt: func(p *pair, f *flaky) uint64 { return lost },
	}, {
		name: "corrupted payload",
		arm: func(p *pair, f *flaky, now replication.Time) {
			p.corruptNet = func(in *replication.NetInput) {
				if corrupted == 0 {
					corrupted = in.NetSeq
					in.Payload[len(in.Payload)-1] ^= 0x20 // a flipped bit in the note's text
				}
			}
			p.relay(now, "inbox", notes.Put("note-07", []byte("a message from a friend")))
		},
		detectAt: func(p *pair, f *flaky) uint64 {
			for n, b := range p.batches {
				for _, u := range b.Net {
					if u.NetSeq == corrupted {
						return n
					}
				}
			}
			return 0
		},
		apps: []string{"inbox"},
	}}
	for i, fl := range faults {
		t.Run(fl.name, func(t *testing.T) { runFault(t, uint64(100+i), fl) })
	}
}

func runFault(t *testing.T, seed uint64, fl fault) {
	reg := notesRegistry(t)
	tmpl, store := factory(t)
	var fk *flaky
	mreg := replication.NewRegistry()
	_ = mreg.Register("notes", func() replication.App { fk = &flaky{App: notes.New()}; return fk })
	_ = mreg.Register("inbox", func() replication.App { return notes.New() })
	params := replication.DefaultParams()
	params.SyncInterval = 500 * time.Millisecond
	p := newPair(t, fl.name, seed, pairOpts{params: params,
		devApps: fromTemplate(t, tmpl, reg, store), mirApps: fromTemplate(t, tmpl, mreg, store)})
	now := replication.Time(1_700_000_000_000)
	for end := now + 3000; now < end; now++ {
		p.step(now, 0.05, 0.005)
	}
	if len(p.notices) != 0 || len(p.refusals) != 0 {
		t.Fatalf("before the fault: notices %v refusals %v", p.notices, p.refusals)
	}
	fl.arm(p, fk, now)
	var div, done *replication.Notice
	for end := now + 5000; now < end && done == nil; now++ {
		p.step(now, 0.05, 0.005)
		for i := range p.notices {
			switch n := &p.notices[i]; n.Kind {
			case replication.NoticeDivergence:
				div = n
			case replication.NoticeResynced:
				done = n
			}
		}
	}
	if div == nil || done == nil {
		t.Fatalf("divergence %v, resync %v", div, done)
	}
	want := fl.detectAt(p, fk)
	if want == 0 || div.Batch != want || done.Resync.Batch != want {
		t.Fatalf("divergence at batch %d (report %d), want %d", div.Batch, done.Resync.Batch, want)
	}
	cause := replication.ErrStateMismatch
	if fl.name == "lost batch" {
		cause = replication.ErrBatchGap
		// The next batch revealed it, and was refused.
		if len(p.refusals) != 1 || !errors.Is(p.refusals[0], replication.ErrBatchGap) {
			t.Fatalf("refusals %v", p.refusals)
		}
	}
	// Every replay up to the faulty batch matched; the faulty one did not
	// (a lost batch is never replayed).
	for _, r := range p.replayed {
		if r.Match != (r.Number != want) {
			t.Fatalf("batch %d replayed with match %v (fault at %d)", r.Number, r.Match, want)
		}
	}
	rep := done.Resync
	if !errors.Is(div.Err, cause) || !errors.Is(rep.Cause, cause) {
		t.Fatalf("cause %v / %v, want %v", div.Err, rep.Cause, cause)
	}
	if fmt.Sprint(rep.Apps) != fmt.Sprint(fl.apps) || len(rep.Repaired) == 0 {
		t.Fatalf("apps %v (repaired %v), want %v", rep.Apps, rep.Repaired, fl.apps)
	}
	moved := rep.ChunkBytes + rep.OfferBytes
	if rep.Chunks == 0 || moved >= rep.StateBytes || rep.StateBytes < 60_000 {
		t.Fatalf("resync moved %d chunks, %d bytes (offer %d) of a %d-byte state", rep.Chunks, moved, rep.OfferBytes, rep.StateBytes)
	}
	t.Logf("%s: detected at batch %d (apps %v, repaired %v); resync moved %d chunks = %d bytes + %d offer bytes, state %d bytes",
		fl.name, want, rep.Apps, rep.Repaired, rep.Chunks, rep.ChunkBytes, rep.OfferBytes, rep.StateBytes)
	// Replay goes on, matching.
	p.dropBatch, p.corruptNet = nil, nil
	replayedBefore := len(p.replayed)
	for end := now + 3000; now < end; now++ {
		p.step(now, 0.05, 0.005)
	}
	now = p.settle(now)
	for _, r := range p.replayed[replayedBefore:] {
		if !r.Match {
			t.Fatalf("batch %d after the resync did not match", r.Number)
		}
	}
	if len(p.replayed) == replayedBefore {
		t.Fatal("nothing replayed after the resync")
	}
	sameNotes(t, p)
}
