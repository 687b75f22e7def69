package docsim

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/ot/trace"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

func loadTrace(tb testing.TB) *trace.Trace {
	path, err := trace.Find()
	if errors.Is(err, trace.ErrNotFound) {
		tb.Skip("automerge-paper trace not present (../shared/data/traces)")
	}
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := trace.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

// replayTrace replays tr across clones members in turns: each turn one clone
// composes the next batch patches into one op, proposes it (one envelope)
// and the network settles. Every clone must end with the trace's final text.
func replayTrace(tb testing.TB, tr *trace.Trace, clones, batch int) (envelopes int, elapsed time.Duration, cpu float64) {
	p := DefaultNetParams()
	p.MaxDelay, p.DupProb, p.HeadFanout = 2, 0, 1
	n := NewNet(1, p, func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Node {
		return sequencer.NewMemory(doc, key)
	})
	admin, err := n.AddClone(true)
	if err != nil {
		tb.Fatal(err)
	}
	for range clones - 1 {
		if err := n.invite(admin, docsync.RoleWriter); err != nil {
			tb.Fatal(err)
		}
	}
	if err := n.Settle(); err != nil {
		tb.Fatal(err)
	}
	if tr.Start != "" {
		tb.Fatal("trace with start content not supported")
	}
	start, cpu0 := time.Now(), cpuTime()
	docLen := 0
	for i, turn := 0, 0; i < len(tr.Patches); turn++ {
		c := n.Clones[turn%clones]
		var op ot.Op
		for j := 0; j < batch && i < len(tr.Patches); j, i = j+1, i+1 {
			pt := tr.Patches[i]
			next, err := ot.FromPatch(docLen, pt.Pos, pt.Del, pt.Ins)
			if err != nil {
				tb.Fatalf("patch %d: %v", i, err)
			}
			docLen = next.TargetLen
			if j == 0 {
				op = next
			} else if op, err = ot.Compose(op, next); err != nil {
				tb.Fatal(err)
			}
		}
		if err := c.Replica.Propose(op); err != nil {
			tb.Fatalf("turn %d: %v", turn, err)
		}
		n.Drain(c)
		envelopes++
		if err := n.Settle(); err != nil {
			tb.Fatal(err)
		}
	}
	elapsed, cpu = time.Since(start), cpuTime()-cpu0
	for _, c := range n.Clones {
		if c.Replica.Text() != tr.End {
			tb.Fatalf("clone %d text differs from the trace's end (%d vs %d code points)",
				c.Index, c.Replica.LocalLen(), len([]rune(tr.End)))
		}
	}
	return envelopes, elapsed, cpu
}

// BenchmarkTraceReplay16 replays the automerge-paper trace (259,778 edits)
// across 16 clones through the in-memory network, edits batched per envelope.
func BenchmarkTraceReplay16(b *testing.B) {
	tr := loadTrace(b)
	for _, batch := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			var total time.Duration
			var envs int
			var cpu float64
			for i := 0; i < b.N; i++ {
				envs, total, cpu = replayTrace(b, tr, 16, batch)
			}
			b.ReportMetric(float64(len(tr.Patches))/total.Seconds(), "edits/s")
			b.ReportMetric(float64(len(tr.Patches))/cpu, "edits/cpu-s")
			b.ReportMetric(float64(envs), "envelopes")
			b.ReportMetric(total.Seconds(), "replay-s")
			b.ReportMetric(cpu, "replay-cpu-s")
		})
	}
}

// TestTraceReplaySmall checks the replay path on a prefix of the trace with 4
// clones (skipped without the trace).
func TestTraceReplaySmall(t *testing.T) {
	tr := loadTrace(t)
	prefix := 20000
	if testing.Short() {
		prefix = 3000
	}
	d := ot.NewDoc(tr.Start)
	for _, p := range tr.Patches[:prefix] {
		op, err := ot.FromPatch(d.Len(), p.Pos, p.Del, p.Ins)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Apply(op); err != nil {
			t.Fatal(err)
		}
	}
	small := &trace.Trace{Start: tr.Start, End: d.String(), Patches: tr.Patches[:prefix]}
	envs, _, _ := replayTrace(t, small, 4, 100)
	if envs != prefix/100 {
		t.Fatalf("%d envelopes", envs)
	}
}
