package main

import (
	"fmt"
	"io"

	"github.com/clone2clone/c2c/replication/xferbench"
	"github.com/spf13/cobra"
)

func newBenchTransferCmd(g *globals) *cobra.Command {
	var cmd *cobra.Command // its context is cancelled by Ctrl-C or SIGTERM
	cmd = newBenchReportCmd(g, "transfer [--json]",
		"Blob transfers on loopback: stream protocol vs bitswap, pull MB/s, resume overhead, one 20 MB file to 5 recipients",
		`transfer measures the mirror's blob transfers with real libp2p hosts on
127.0.0.1 and pebble stores in a temporary directory:

  - a device pulling a 20 MB file from its clone with /c2c/blob/1.0.0 (one
    stream, blocks wanted level by level) and with boxo's bitswap (a
    session, then the whole DAG): MB/s, bytes on the wire, time to the
    first block, round trips; the faster one with no more wire bytes is
    the one to use (pull_mb_per_s is the stream protocol's);
  - resume_overhead_bytes: the extra wire bytes of a pull cut when half
    the file arrived and then resumed, against one uncut pull;
  - device_upload_ratio: a phone sends the 20 MB file to 5 other users
    (clones with mirrors, delivery and blob services; one recipient phone
    off during the send): its upload bytes, from its host's byte counter,
    over the file size. The paper's phone uploads it 5 times.

Progress goes to stderr.`,
		func() (xferbench.Result, error) {
			return xferbench.Run(cmd.Context(), func(step string) { fmt.Fprintln(g.stderr, "bench transfer:", step) })
		},
		func(w io.Writer, r xferbench.Result) {
			fmt.Fprintf(w, "%-10s %10s %12s %10s %12s %8s\n", "pull 20MB", "MB/s", "wire bytes", "overhead", "first blk ms", "rounds")
			for _, m := range []xferbench.Mechanism{r.Stream, r.Bitswap} {
				fmt.Fprintf(w, "%-10s %10.1f %12d %10.4f %12.2f %8d\n", m.Name, m.MBPerS, m.WireBytes, m.WireOverhead, m.FirstBlockMs, m.Rounds)
			}
			fmt.Fprintf(w, "chosen: %s\n\n", r.Chosen)
			fmt.Fprintf(w, "%-36s %12.1f\n", "pull_mb_per_s", r.PullMBPerS)
			fmt.Fprintf(w, "%-36s %12d  (uncut %d, cut and resumed %d)\n", "resume_overhead_bytes", r.ResumeOverheadBytes, r.UncutWireBytes, r.CutWireBytes)
			fmt.Fprintf(w, "%-36s %12.4f  (goal <= 1.05; paper's baseline %.0f)\n", "device_upload_ratio", r.DeviceUploadRatio, r.BaselineUploadRatio)
			if r.Send != nil {
				fmt.Fprintf(w, "%-36s %12d of %d bytes; %d/%d delivered, %d/%d identical, %.1f s\n", "device upload", r.DeviceUploadBytes,
					r.FileBytes, r.Send.Delivered, r.Recipients, r.Send.Identical, r.Recipients, r.Send.Seconds)
			}
			for _, n := range r.Notes {
				fmt.Fprintf(w, "# %s\n", n)
			}
		})
	return cmd
}
