package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// newBenchCmd is the parent of the benches; each bench is a subcommand
// (abuse runs real c2c processes, mirror the mirror's core, scan the
// mirror's scanner).
func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a benchmark and print its figures (benches as subcommands)",
		Long: `bench runs the benchmarks whose figures the docs quote; each prints a table,
or with --json one JSON object. abuse starts providers, sequencers and clones
as child processes of this binary on 127.0.0.1, in a data dir of their own,
exactly as the CLI would run them, and measures them from the outside (/proc,
the control socket, the device CLI).

  abuse   hostile peers against a clone and a sequencer: what each attack
          costs the attacked process, and whether honest traffic survives
  mirror  the mirror's core in virtual time: sync bytes per event against
          copying each changed item, replay rate, lag at t_syn_int 1 s, 10 s
          and 60 s
  scan    the mirror's scanner on a 200 MB folder: hash-only, 10k body
          signatures, rescan through the verdict cache, against clamscan
  transfer  blob transfers on loopback: the stream protocol against
          bitswap, pull MB/s, resume overhead, and the phone's upload
          bytes for one 20 MB file sent to 5 recipients
  paper   the C2C paper's experiment: 16 device processes through its four
          phases in clone mode and direct mode (SPORC), device bytes, CPU,
          crypto operations and estimated energy, with charts

  latency CloneDoc in real time on loopback: edit latency clone to clone
          and device to device, CPU per delivery, bytes per edit
  trace   the automerge-paper trace typed on a device, to 4 other devices:
          wall time, bytes per edit on the device's link, device CPU
  presence  a caret's bytes on each hop (device link, presence topic) and
          the CPU of sealing, checking and moving it
  join    a new member joining a long document from a snapshot and the
          tail, against replaying from seq 1: time, bytes, log compaction
  density many clones per provider process (c2c provider --host-clones):
          RSS per idle clone, idle CPU, start time, every record found,
          a sample of devices editing one document
  hostadmin  admin of hosted clones: enrol into and stop/start on a
          provider hosting N clones, migrate one with a 1,000-edit
          document to another provider

` + envHelp,
	}
	cmd.AddCommand(newBenchAbuseCmd(g), newBenchMirrorCmd(g), newBenchScanCmd(g), newBenchTransferCmd(g), newBenchPaperCmd(g), newBenchPaperDeviceCmd(), newBenchLatencyCmd(g), newBenchTraceCmd(g), newBenchPresenceCmd(g), newBenchJoinCmd(g), newBenchDensityCmd(g), newBenchHostadminCmd(g))
	return cmd
}

// newBenchReportCmd is a bench that runs once and prints its result: as a
// table, or with --json as one JSON object of the result's fields.
func newBenchReportCmd[R any](g *globals, use, short, long string, run func() (R, error), table func(w io.Writer, r R)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := run()
			if err != nil {
				return err
			}
			if asJSON {
				b, err := json.Marshal(r)
				if err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, string(b))
				return nil
			}
			table(g.stdout, r)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
