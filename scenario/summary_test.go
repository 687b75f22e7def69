package scenario

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestPercentilesNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i)*time.Millisecond) // unsorted on purpose
	}
	got := PercentilesOf(d)
	want := Percentiles{Count: 100, P50: 50, P90: 90, P99: 99, Max: 100}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if d[0] != 100*time.Millisecond {
		t.Fatal("PercentilesOf sorted its input")
	}
	if (PercentilesOf(nil) != Percentiles{}) {
		t.Fatal("empty sample must give zero percentiles")
	}
}

func TestSummarizeAndCheckDirectory(t *testing.T) {
	p := DefaultParams(CaseDirectory)
	p.Instances, p.Providers = 5, 1
	results := []InstanceResult{
		{Index: 0, Role: "provider", PeersUp: 4, PeersEnd: 4},
		{Index: 1, Role: roleClone, Lookups: 50, LookupsOK: 50, LookupLat: []time.Duration{time.Millisecond}, PeersUp: 6, PeersEnd: 1},
		{Index: 2, Role: roleClone, Lookups: 50, LookupsOK: 49, Left: true, Rejoined: true},
		{Index: 3, Role: roleClone},
		{Index: 4, Role: roleClone},
	}
	s := Summarize(p, "test", results)
	if s.Lookups.Attempted != 100 || s.Lookups.Succeeded != 99 || s.Churned != 1 || s.Rejoined != 1 {
		t.Fatalf("summary %+v lookups %+v", s, s.Lookups)
	}
	if s.Peers != (PeerStats{UpMean: 2, EndMean: 1, Max: 6}) {
		t.Fatalf("peers %+v, want up mean 2, end mean 1, max 6", s.Peers)
	}
	if err := s.Check(); err != nil { // 99% passes
		t.Fatal(err)
	}
	results[1].LookupsOK = 48
	if err := Summarize(p, "test", results).Check(); !errors.Is(err, ErrCheck) {
		t.Fatalf("97%% success: got %v, want ErrCheck", err)
	}
}

func TestCheckDocsync(t *testing.T) {
	p := DefaultParams(CaseDocsync)
	p.Instances = 3
	ok := []InstanceResult{
		{Index: 0, Role: roleSequencer},
		{Index: 1, Role: roleClone, EditsAcked: 2, Expected: 3, Delivered: 3, Converged: true},
		{Index: 2, Role: roleClone, EditsAcked: 3, Expected: 2, Delivered: 2, Converged: true},
	}
	if err := Summarize(p, "test", ok).Check(); err != nil {
		t.Fatal(err)
	}
	missing := append([]InstanceResult(nil), ok...)
	missing[2].Delivered = 1
	if err := Summarize(p, "test", missing).Check(); !errors.Is(err, ErrCheck) {
		t.Fatalf("a missing delivery: got %v, want ErrCheck", err)
	}
	p.Fork = true
	forked := append([]InstanceResult(nil), ok...)
	forked[1].ForkDelay = time.Second
	if err := Summarize(p, "test", forked).Check(); !errors.Is(err, ErrCheck) {
		t.Fatalf("one clone without the alarm: got %v, want ErrCheck", err)
	}
}

func TestValidate(t *testing.T) {
	bad := []func(*Params){
		func(p *Params) { p.Case = "nope" },
		func(p *Params) { p.Instances = p.Providers + 1 },
		func(p *Params) { p.Churn = 1 },
		func(p *Params) { p.Duration = 0 },
		func(p *Params) { p.Fork, p.ForkAt = true, 1 },
		func(p *Params) { p.ConnsHigh = -1 },
		func(p *Params) { p.ConnsHigh = 1 },
	}
	for i, f := range bad {
		p := DefaultParams(CaseDirectory)
		f(&p)
		if p.Validate() == nil {
			t.Errorf("case %d: %+v accepted", i, p)
		}
	}
	if err := DefaultParams(CaseDocsync).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestChurnedIsSharedAndSized(t *testing.T) {
	p := DefaultParams(CaseDirectory) // 97 clones, 10%
	a, b := churned(p), churned(p)
	if len(a) != 10 {
		t.Fatalf("%d churned clones, want 10", len(a))
	}
	for c := range a {
		if !b[c] || c < 0 || c >= p.Clones() {
			t.Fatalf("clone %d: not the same set or out of range", c)
		}
	}
}

func TestLocalSyncGathersEveryone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewLocalSync(3)
		var hooked []string
		s.OnGathered = func(topic string) { hooked = append(hooked, topic) }
		got := make([][][]byte, 3)
		done := make(chan struct{})
		for i := range 3 {
			go func() {
				defer func() { done <- struct{}{} }()
				var err error
				if got[i], err = s.Gather(context.Background(), "t", i, []byte{byte(i)}); err != nil {
					t.Error(err)
				}
			}()
		}
		for range 3 {
			<-done
		}
		for i := range 3 {
			if len(got[i]) != 3 || got[i][2][0] != 2 {
				t.Fatalf("instance %d got %v", i, got[i])
			}
		}
		if len(hooked) != 1 {
			t.Fatalf("hook ran %d times", len(hooked))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := s.Gather(ctx, "alone", 0, nil); !errors.Is(err, ErrGather) {
			t.Fatalf("a gather nobody joins: got %v, want ErrGather", err)
		}
	})
}

func TestJoinDelaySpreadsClones(t *testing.T) {
	p := DefaultParams(CaseDirectory) // 97 clones
	if d := p.joinDelay(50); d != 0 {
		t.Fatalf("no JoinOver: delay %v", d)
	}
	p.JoinOver = 97 * time.Second
	if d := p.joinDelay(0); d != 0 {
		t.Fatalf("first clone waits %v", d)
	}
	if d := p.joinDelay(96); d != 96*time.Second {
		t.Fatalf("last clone waits %v, want 96s", d)
	}
	p.JoinOver = -time.Second
	if p.Validate() == nil {
		t.Fatal("negative JoinOver accepted")
	}
}

func TestDocGroupsRespectTheMemberCap(t *testing.T) {
	for _, tc := range []struct{ instances, docs, per int }{
		{100, 1, 99}, {257, 1, 256}, {258, 2, 129}, {1000, 4, 250},
	} {
		p := DefaultParams(CaseDocsync)
		p.Instances = tc.instances
		docs, per := p.docGroups()
		if docs != tc.docs || per != tc.per {
			t.Errorf("N=%d: %d docs of %d, want %d of %d", tc.instances, docs, per, tc.docs, tc.per)
		}
		if got := p.docOf(tc.instances - 1); got != docs-1 {
			t.Errorf("N=%d: last clone in doc %d, want %d", tc.instances, got, docs-1)
		}
		next := 0
		for g := range docs {
			lo, hi := p.docClones(g)
			if lo != next || hi <= lo || hi-lo > per {
				t.Errorf("N=%d: doc %d holds clones [%d, %d), want from %d, at most %d", tc.instances, g, lo, hi, next, per)
			}
			next = hi
		}
		if next != p.Clones() {
			t.Errorf("N=%d: docs cover %d clones, want %d", tc.instances, next, p.Clones())
		}
		if c := p.docCreator(docs - 1); p.docOf(c) != docs-1 || p.docOf(c-1) != docs-2 && docs > 1 {
			t.Errorf("N=%d: creator %d of the last doc is not its group's first clone", tc.instances, c)
		}
	}
}
