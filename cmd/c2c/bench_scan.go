package main

import (
	"fmt"
	"io"

	"github.com/clone2clone/c2c/replication/scan/scanbench"
	"github.com/spf13/cobra"
)

func newBenchScanCmd(g *globals) *cobra.Command {
	return newBenchReportCmd(g, "scan [--json]",
		"The mirror's scanner on a 200 MB folder: hash-only, 10k body signatures, rescan through the verdict cache, against clamscan",
		`scan writes a 200 MB folder of mixed files (text, binary, copies, a few with
EICAR) and a generated signature set (10,000 .ndb, 100,000 .hdb) in a temporary
directory, scans it with hash signatures only, with all signatures, and again
unchanged through the verdict cache, then runs Debian's clamscan on the same
folder with the same files (skipped with a message when clamscan is absent).
Progress goes to stderr.`,
		func() (*scanbench.Result, error) { return scanbench.Run(g.stderr) }, // progress on stderr
		func(w io.Writer, r *scanbench.Result) {
			fmt.Fprintf(w, "%d files, %.1f MB; %d body and %d hash signatures loaded in %.0f ms\n\n",
				r.Files, r.FolderMB, r.BodySigs, r.HashSigs, r.LoadMs)
			fmt.Fprintf(w, "%-40s %12s %8s\n", "pass", "figure", "goal")
			fmt.Fprintf(w, "%-40s %9.0f MB/s %8s\n", "hash signatures only", r.HashOnly, ">=1000")
			fmt.Fprintf(w, "%-40s %9.0f MB/s %8s\n", "hash only, MD5 of every file", r.HashEveryFile, "")
			fmt.Fprintf(w, "%-40s %9.0f MB/s %8s\n", "10k body + 100k hash signatures", r.Body10k, ">=300")
			fmt.Fprintf(w, "%-40s %9.0f MB/s %8s\n", fmt.Sprintf("+ %d with a 2-byte anchor only", r.ShortSigs), r.BodyShort, "")
			fmt.Fprintf(w, "%-40s %9.2f ms   %8s\n", "rescan unchanged (verdict cache)", r.RescanMs, "<=10")
			fmt.Fprintf(w, "%-40s %9.1f MB   %8s\n", "one compiled database, live heap", r.DBHeapMB, "")
			fmt.Fprintf(w, "%-40s %9.0f MB/s %8s\n", fmt.Sprintf("via the provider, miss (%d files)", r.RemoteFiles), r.RemoteMiss, "")
			fmt.Fprintf(w, "%-40s %9.0f us   %8s\n", "via the provider, cache hit, per file", r.RemoteHitUs, "")
			if r.Clamscan > 0 {
				fmt.Fprintf(w, "%-40s %9.1f MB/s %8s\n", "clamscan, same signatures", r.Clamscan, "")
				fmt.Fprintf(w, "%-40s %9.1f x    %8s\n", "ratio vs clamscan (body 10k)", r.Ratio, "")
				fmt.Fprintf(w, "%-40s %9.1f s    %8s\n", "clamscan wall (of which load)", r.ClamscanWallS, fmt.Sprintf("%.1f s", r.ClamscanLoadS))
			} else {
				fmt.Fprintf(w, "%-40s %12s\n", "clamscan", "skipped")
			}
			fmt.Fprintf(w, "\ndetected %d of %d planted (clamscan %d)\n", r.Detected, r.Expected, r.ClamDetected)
			for _, n := range r.Notes {
				fmt.Fprintf(w, "# %s\n", n)
			}
		})
}
