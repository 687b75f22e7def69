package netsim

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/ot/trace"
)

// BenchmarkTraceEndToEnd pushes the automerge-paper editing trace (Martin
// Kleppmann's automerge-perf, 259,778 single-character edits; CC BY 4.0)
// through one clone, the sequencer and 4 receiving clones on real loopback
// hosts (QUIC, gossipsub, in-memory datastores), and reports the wall time
// until every receiver holds the final text. The writer gets the trace in
// Edit calls of `batch` patches, as a device link would send them; edits
// made while an envelope is in flight are composed into the next one.
// For comparison, the traces README gives Yjs 5,714 ms to apply the trace
// locally in one process.
//
//	go test -run '^$' -bench BenchmarkTraceEndToEnd -benchtime 1x ./docsync/netsim
func BenchmarkTraceEndToEnd(b *testing.B) {
	path, err := trace.Find()
	if errors.Is(err, trace.ErrNotFound) {
		b.Skip("automerge-paper trace not found (set C2C_TRACES)")
	}
	if err != nil {
		b.Fatal(err)
	}
	tr, err := trace.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 64
	for b.Loop() {
		b.StopTimer()
		n := NewLoopback(b)
		seq := n.AddSequencer()
		clones := []*Clone{n.AddClone(), n.AddClone(), n.AddClone(), n.AddClone(), n.AddClone()}
		d := n.NewDoc(seq, clones...)
		writer := clones[0]
		ctx := context.Background()
		b.StartTimer()
		start := time.Now()
		for i := 0; i < len(tr.Patches); i += batch {
			ps := tr.Patches[i:min(i+batch, len(tr.Patches))]
			err := writer.Svc.EditFunc(ctx, d.ID, func(l int) ([]ot.Op, error) {
				ops := make([]ot.Op, 0, len(ps))
				for _, p := range ps {
					op, err := ot.FromPatch(l, p.Pos, p.Del, p.Ins)
					if err != nil {
						return nil, fmt.Errorf("patch %+v on length %d: %w", p, l, err)
					}
					ops = append(ops, op)
					l += Runes(p.Ins) - p.Del
				}
				return ops, nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		edited := time.Since(start)
		for _, c := range clones[1:] {
			for {
				in, err := c.Svc.Info(d.ID)
				if err != nil {
					b.Fatal(err)
				}
				if win, _ := writer.Svc.Info(d.ID); !win.Pending && in.Seq == win.Seq && in.Applied == in.Seq {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		total := time.Since(start)
		b.StopTimer()
		for i, c := range clones {
			if txt, _ := c.Svc.Text(d.ID); txt != tr.End {
				b.Fatalf("clone %d does not hold the trace's final text (%d vs %d runes)", i, Runes(txt), Runes(tr.End))
			}
		}
		in, _ := writer.Svc.Info(d.ID)
		st := seq.Svc.Stats()
		b.ReportMetric(float64(total.Milliseconds()), "ms_end_to_end")
		b.ReportMetric(float64(edited.Milliseconds()), "ms_writer_acked")
		b.ReportMetric(float64(in.Seq), "entries")
		b.Logf("%d edits in %d Edit calls: writer acknowledged all in %v; 4 receivers hold the final text after %v; %d entries (%.0f edits/entry), sequencer %+v; Yjs applies the trace locally in 5,714 ms",
			len(tr.Patches), (len(tr.Patches)+batch-1)/batch, edited, total, in.Seq, float64(len(tr.Patches))/float64(in.Seq), st)
		for _, c := range clones {
			c.Close()
		}
		seq.Close()
		b.StartTimer()
	}
}
