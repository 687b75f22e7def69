package main

import (
	"fmt"
	"io"

	"github.com/clone2clone/c2c/docsync/joinbench"
	"github.com/spf13/cobra"
)

func newBenchJoinCmd(g *globals) *cobra.Command {
	p := joinbench.DefaultParams()
	prof := &windowProfiles{}
	p.AroundSnapshotJoin = func() func() error {
		if prof.cpu == "" {
			return func() error { return nil }
		}
		if err := prof.start(); err != nil {
			return func() error { return err }
		}
		return prof.stop
	}
	cmd := newBenchReportCmd(g, "join [--entries N] [--tail N] [--keep-history N] [--json]",
		"A new member joining a long document: from a snapshot and the tail against replaying from seq 1",
		`join builds a document of --entries entries with the real core (one writer,
one edit per entry, the reference sequencer), the writer sealing a signed,
encrypted snapshot --tail entries before the end. A serving member keeps the
log and the snapshot in pebble and answers on the real history and snapshot
protocols over a libp2p TCP connection on loopback. A new member, a fresh
host and pebble store, joins twice: from the snapshot and the tail, and by
replaying every entry from seq 1; each join is timed from the dial until the
replica is at the head with everything persisted, and counted in bytes on the
joiner's connection. Both joins must end in the same text and chain. Then the
server compacts its log behind the snapshot, keeping --keep-history entries
(and the genesis), and the log's bytes (keys and values) before and after
are printed. The join from the snapshot runs --snapshot-joins times
(fresh host and store each time); the figure is the median, and every run
is listed. The server's store is flushed and compacted before the joins.
--cpu-profile writes a CPU profile of the joins from the snapshot (dial to
persisted head) for go tool pprof; --history-cache keeps the history (the
same on every run) in a file, since 1,000,000 entries take 5 to 25 minutes
to build on 2 cores. Building the history takes about 0.3 ms per entry; progress
goes to stderr.`,
		func() (*joinbench.Result, error) { return joinbench.Run(p, g.stderr) },
		func(w io.Writer, r *joinbench.Result) {
			fmt.Fprintf(w, "%d entries (text %d code points), snapshot at seq %d (%d bytes), tail %d entries\n\n",
				r.Entries, r.TextRunes, r.SnapshotSeq, r.SnapshotSize, r.TailEntries)
			fmt.Fprintf(w, "%-28s %12s %14s\n", "join", "ms", "bytes")
			fmt.Fprintf(w, "%-28s %12.1f %14d  (median of %v)\n", "snapshot + tail", r.SnapshotMs, r.SnapshotBytes, r.SnapshotMsRuns)
			fmt.Fprintf(w, "%-28s %12.1f %14d\n", "replay from seq 1", r.ReplayMs, r.ReplayBytes)
			fmt.Fprintf(w, "%-28s %12.1f  (process CPU per join from the snapshot, median of %v)\n", "snapshot + tail, CPU", r.SnapshotCPUMs, r.SnapshotCPUMsRuns)
			fmt.Fprintf(w, "\n%-28s %14d\n", "log bytes before compaction", r.LogBytesBefore)
			fmt.Fprintf(w, "%-28s %14d  (keeping %d entries)\n", "log bytes after compaction", r.LogBytesAfter, r.KeepHistory)
			fmt.Fprintf(w, "\nidentical text and chain: %v; history built in %.1f s\n", r.Identical, r.BuildS)
		})
	cmd.Flags().IntVar(&p.Entries, "entries", p.Entries, "entries in the document's history")
	cmd.Flags().IntVar(&p.Tail, "tail", p.Tail, "entries after the snapshot")
	cmd.Flags().IntVar(&p.KeepHistory, "keep-history", p.KeepHistory, "entries the server keeps before its snapshot when it compacts")
	cmd.Flags().IntVar(&p.Window, "window", p.Window, "seqs before its head the snapshot covers (chain hashes and ops)")
	cmd.Flags().StringVar(&prof.cpu, "cpu-profile", "", "write a CPU profile of the joins from the snapshot to this file")
	cmd.Flags().IntVar(&p.SnapshotJoins, "snapshot-joins", p.SnapshotJoins, "joins from the snapshot, each by a fresh host and store; snapshot_ms is their median")
	cmd.Flags().BoolVar(&p.Replay, "replay", p.Replay, "also join by replaying from seq 1 (--replay=false skips it: replay_ms and replay_bytes are then 0)")
	cmd.Flags().StringVar(&p.HistoryCache, "history-cache", "", "keep the built history in this file and load it from there when it exists (same --entries, --tail, --window)")
	return cmd
}
