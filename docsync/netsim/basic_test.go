package netsim

import (
	"context"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/prometheus/client_golang/prometheus"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

// Three clones create, join and edit one document through the sequencer.
func TestThreeClonesEdit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seqReg, cloneReg := prometheus.NewRegistry(), prometheus.NewRegistry()
		seq := n.AddSequencer(seqservice.WithMetrics(seqReg))
		clones := []*Clone{n.AddClone(cloneservice.WithMetrics(cloneReg)), n.AddClone(), n.AddClone()}
		d := n.NewDoc(seq, clones...)
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 30 {
			c := clones[i%3]
			if err := c.Svc.EditFunc(ctx, d.ID, RandomEdit(rng)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		}
		d.WaitConverged(time.Minute)
		txt, _ := clones[0].Svc.Text(d.ID)
		in, _ := clones[0].Svc.Info(d.ID)
		t.Logf("seq %d, text %d runes", in.Seq, Runes(txt))
		if v := counterValue(t, cloneReg, "c2c_docsync_committed_entries_total"); v != float64(in.Seq) {
			t.Fatalf("clone metric committed_entries_total = %v, want %d", v, in.Seq)
		}
		if v := counterValue(t, seqReg, "c2c_sequencer_ordered_total"); v != float64(in.Seq) {
			t.Fatalf("sequencer metric ordered_total = %v, want %d", v, in.Seq)
		}
	})
}

// counterValue reads a counter from a registry.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}
