package ot

// These tests and benchmarks replay the automerge-paper editing trace: the
// writing of "A Conflict-Free Replicated JSON Datatype" (Kleppmann &
// Beresford), recorded by Martin Kleppmann and redistributed in Joseph
// Gentle's editing-traces collection, licensed CC BY 4.0
// (https://creativecommons.org/licenses/by/4.0/).

import (
	"errors"
	"sync"
	"testing"

	"github.com/clone2clone/c2c/docsync/ot/trace"
)

// loadTrace loads the trace once per test binary; callers must not modify it.
func loadTrace(tb testing.TB) *trace.Trace {
	tb.Helper()
	loaded.once.Do(func() {
		var path string
		if path, loaded.err = trace.Find(); loaded.err == nil {
			loaded.tr, loaded.err = trace.Load(path)
		}
	})
	if errors.Is(loaded.err, trace.ErrNotFound) {
		tb.Skipf("automerge-paper trace not available: %v", loaded.err)
	}
	if loaded.err != nil {
		tb.Fatal(loaded.err)
	}
	return loaded.tr
}

var loaded struct {
	once sync.Once
	tr   *trace.Trace
	err  error
}

// traceOps turns every patch into an op on the document as it is then.
func traceOps(tb testing.TB, tr *trace.Trace) []Op {
	tb.Helper()
	ops := make([]Op, len(tr.Patches))
	n := NewDoc(tr.Start).Len()
	for i, p := range tr.Patches {
		o, err := FromPatch(n, p.Pos, p.Del, p.Ins)
		if err != nil {
			tb.Fatalf("patch %d: %v", i, err)
		}
		ops[i] = o
		n = o.TargetLen
	}
	return ops
}

func TestApplyTrace(t *testing.T) {
	tr := loadTrace(t)
	d := NewDoc(tr.Start)
	for i, p := range tr.Patches {
		o, err := FromPatch(d.Len(), p.Pos, p.Del, p.Ins)
		if err != nil {
			t.Fatalf("patch %d: %v", i, err)
		}
		if err := d.Apply(o); err != nil {
			t.Fatalf("patch %d: %v", i, err)
		}
	}
	if got := d.String(); got != tr.End {
		t.Fatalf("final text differs from endContent (%d vs %d bytes)", len(got), len(tr.End))
	}
}

// TestComposeTrace composes the whole trace into one op (as a clone's edit
// buffer would, in chunks) and checks it produces endContent.
func TestComposeTrace(t *testing.T) {
	tr := loadTrace(t)
	ops := traceOps(t, tr)
	total := Op{}
	total.Retain(NewDoc(tr.Start).Len())
	const chunk = 256
	for i := 0; i < len(ops); i += chunk {
		batch := ops[i]
		var err error
		for _, o := range ops[i+1 : min(i+chunk, len(ops))] {
			if batch, err = Compose(batch, o); err != nil {
				t.Fatal(err)
			}
		}
		if total, err = Compose(total, batch); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ApplyString(tr.Start, total)
	if err != nil {
		t.Fatal(err)
	}
	if got != tr.End {
		t.Fatal("composed trace differs from endContent")
	}
}

// BenchmarkApplyTrace measures turning each of the 259,778 patches into an
// Op and applying it to a Doc: one iteration is the whole trace.
func BenchmarkApplyTrace(b *testing.B) {
	tr := loadTrace(b)
	b.ReportAllocs()
	for b.Loop() {
		d := NewDoc(tr.Start)
		for _, p := range tr.Patches {
			o, err := FromPatch(d.Len(), p.Pos, p.Del, p.Ins)
			if err != nil {
				b.Fatal(err)
			}
			if err := d.Apply(o); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tr.Patches)), "ns/edit")
}

// BenchmarkApplyTracePrebuilt applies pre-built ops only (no FromPatch).
func BenchmarkApplyTracePrebuilt(b *testing.B) {
	tr := loadTrace(b)
	ops := traceOps(b, tr)
	b.ReportAllocs()
	for b.Loop() {
		d := NewDoc(tr.Start)
		for _, o := range ops {
			if err := d.Apply(o); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ops)), "ns/edit")
}
