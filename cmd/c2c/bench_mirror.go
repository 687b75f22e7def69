package main

import (
	"fmt"
	"io"

	"github.com/clone2clone/c2c/replication/mirrorbench"
	"github.com/spf13/cobra"
)

func newBenchMirrorCmd(g *globals) *cobra.Command {
	return newBenchReportCmd(g, "mirror [--json]",
		"The mirror's core: sync bytes per event, against copying each changed item, replay rate, lag at t_syn_int 1 s, 10 s, 60 s",
		`mirror runs the mirror's pure core in virtual time: a 10 KB note typed
keystroke by keystroke and 100 messages with 100 KB attachments received in
the inbox, and prints sync bytes per user input beside its payload, the
ratio to copying each changed item, the replay rate, the device's CPU per
batch and the lag at t_syn_int 1 s, 10 s and 60 s against its bound.`,
		mirrorbench.Run,
		func(w io.Writer, r mirrorbench.Result) {
			fmt.Fprintf(w, "%-34s %12.1f\n", "sync bytes per user input", r.BytesPerEvent)
			fmt.Fprintf(w, "%-34s %12.1f\n", "payload bytes per user input", r.PayloadBytesPerEvent)
			fmt.Fprintf(w, "%-34s %12.4f\n", "vs replication: 10 KB note typed", r.BytesVsReplication["note"])
			fmt.Fprintf(w, "%-34s %12.4f\n", "vs replication: 100 x 100 KB inbox", r.BytesVsReplication["inbox"])
			fmt.Fprintf(w, "%-34s %12.0f\n", "replay events per second", r.ReplayEventsPerS)
			fmt.Fprintf(w, "%-34s %12.1f\n", "device us per batch", r.DeviceCPUUsPerBatch)
			fmt.Fprintf(w, "\n%12s %8s %8s %8s %8s %8s\n", "t_syn_int ms", "t_max", "p50", "p99", "max", "bound")
			for _, l := range r.Lag {
				fmt.Fprintf(w, "%12d %8d %8d %8d %8d %8d\n", l.SyncMs, l.MaxMs, l.P50, l.P99, l.Max, l.SyncMs+l.MaxMs)
			}
			for _, n := range r.Notes {
				fmt.Fprintf(w, "# %s\n", n)
			}
		})
}
