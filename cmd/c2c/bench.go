package main

import "github.com/spf13/cobra"

// newBenchCmd is the parent of the benches that run a network of real c2c
// processes and measure it; each bench is a subcommand.
func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a network of real c2c processes (benches as subcommands)",
		Long: `bench runs benchmarks against real c2c processes: it starts providers,
sequencers and clones as child processes of this binary on 127.0.0.1, in a
data dir of their own, exactly as the CLI would run them, and measures them
from the outside (/proc, the control socket, the device CLI).

  abuse   hostile peers against a clone and a sequencer: what each attack
          costs the attacked process, and whether honest traffic survives

` + envHelp,
	}
	cmd.AddCommand(newBenchAbuseCmd(g))
	return cmd
}
