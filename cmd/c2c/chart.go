package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/clone2clone/c2c/scenario"
	"github.com/clone2clone/c2c/scenario/chart"
	"github.com/spf13/cobra"
)

func newChartCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "chart SUMMARY.json...",
		Short: "Draw the latency distributions of c2c-sim or Testground summaries into one PNG",
		Long: `chart overlays the latency samples (lookup, edit delivery, fork detection)
of one or more JSON summaries, as written by c2c-sim and by the Testground
plan, as empirical CDFs on a log-scaled time axis.

  c2c chart -o latency.png results/sim-directory-n100.json results/sim-docsync-n100.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sums []*scenario.Summary
			for _, path := range args {
				raw, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				var s scenario.Summary
				if err := json.Unmarshal(raw, &s); err != nil {
					return fmt.Errorf("%s is not a summary: %w", path, err)
				}
				sums = append(sums, &s)
			}
			if err := chart.WritePNG(out, sums...); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "chart: %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "latency.png", "PNG file to write")
	return cmd
}
