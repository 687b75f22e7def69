package main

import (
	"encoding/json"
	"fmt"

	"github.com/clone2clone/c2c/replication/mirrorbench"
	"github.com/spf13/cobra"
)

func newBenchMirrorCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "mirror [--json]",
		Short: "The mirror's core: sync bytes per event, against copying each changed item, replay rate, lag at t_syn_int 1 s, 10 s, 60 s",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := mirrorbench.Run()
			if err != nil {
				return err
			}
			if asJSON {
				b, _ := json.Marshal(r)
				fmt.Fprintln(g.stdout, string(b))
				return nil
			}
			w := g.stdout
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
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
