package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/clone2clone/c2c/internal/cli"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/replication/scanwire"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

// scanReportFile is where c2c device scan keeps the last signed report.
const scanReportFile = "scan-report.json"

func newDeviceScanCmd(g *globals) *cobra.Command {
	var f mirrorFlags
	var out string
	var asJSON bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "scan [--out FILE] [--json]",
		Short: "Have the clone scan every file of the mirror and return a report it signs",
		Long: `scan asks the clone for an antivirus report on the device's mirror: every
file of the files app with its path, CID, SHA-256, verdict and signature
database version. The phone scans nothing: its clone asks its provider's
scanner (one engine per provider process, ClamAV signature formats, EICAR
built in), which answers from the verdict cache shared by all its clones,
or scans the bytes once per database version. Files are also scanned as
they arrive in the mirror; this command returns the verdicts, fetching
the ones that are missing.

The report is signed by the clone, and each verdict in it by the provider:
it is saved to --out (default <data>/scan-report.json) and can be checked
offline with c2c verify-scan-report FILE. A progress bar goes to stderr.
The device's pending changes are sent first (the mirror scans what the
phone has). The exit status is 0 even when files are infected; the report
says which.

` + envHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := openMirror(cmd, g, &f)
			if err != nil {
				return err
			}
			defer m.close()
			ctx := cmd.Context()
			if err := m.sync(ctx, &f); err != nil {
				return fmt.Errorf("sending the device's changes to the mirror: %w", err)
			}
			ctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			bar := cli.NewCounter(g.stderr, "scanning the mirror", "files", false)
			raw, r, err := scanwire.RequestReport(ctx, m.dev.h, m.dev.clone.ID, func(done, total int) { bar.Update(uint64(done), uint64(total)) })
			bar.Done()
			if err != nil {
				return fmt.Errorf("scan: %w", err)
			}
			if out == "" {
				out = filepath.Join(m.dev.dir, scanReportFile)
			}
			if err := keystore.WriteFile(out, append(raw, '\n')); err != nil {
				return err
			}
			if asJSON {
				fmt.Fprintln(g.stdout, string(raw))
				return nil
			}
			printScanReport(g, r)
			fmt.Fprintf(g.stdout, "report signed by clone %s saved to %s (check it with c2c verify-scan-report)\n", r.Clone, out)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&out, "out", "", "where to save the signed report (default <data>/scan-report.json)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the signed report (JSON) instead of the table")
	cmd.Flags().DurationVar(&wait, "scan-timeout", 10*time.Minute, "how long the clone may take over the report")
	return cmd
}

func printScanReport(g *globals, r *scanwire.Report) {
	fmt.Fprintf(g.stdout, "%-40s %-32s %-16s %s\n", "path", "verdict", "sha256", "cid")
	for _, e := range r.Files {
		fmt.Fprintf(g.stdout, "%-40s %-32s %-16s %s\n", e.Path, scanVerdict(e), e.SHA256[:min(16, len(e.SHA256))], e.CID)
	}
	fmt.Fprintln(g.stdout, scanSummary(r))
}

// scanVerdict says a report entry's verdict in a word or two.
func scanVerdict(e scanwire.ReportEntry) string {
	switch {
	case e.Error != "":
		return "error: " + e.Error
	case e.Infected:
		return "INFECTED " + e.Name
	}
	return "clean"
}

// scanSummary is a report's last line: counts and the signature database.
func scanSummary(r *scanwire.Report) string {
	return fmt.Sprintf("%d files, %d infected, %d errors; signature database version %d (provider %s)",
		len(r.Files), r.Infected, r.Errors, r.DBVersion, r.Provider)
}

func newVerifyScanReportCmd(g *globals) *cobra.Command {
	var clone, provider string
	cmd := &cobra.Command{
		Use:   "verify-scan-report FILE [--clone ID] [--provider ID]",
		Short: "Check a report from c2c device scan offline: the clone's and the provider's signatures",
		Long: `verify-scan-report checks a signed scan report without the network: the
clone's signature over the whole report (under the key its peer ID holds;
with --clone, it must be that clone), and every file's verdict signed by the
provider for that file's SHA-256, size and database version. It prints the
report's table on success and fails on any mismatch.

The report names its own clone and provider, and anyone can sign one under
keys of their own: without --clone (and --provider, to pin the scanner
too) a success says the report is intact, not who made it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var want, wantProv peer.ID
			if clone != "" {
				if want, err = peer.Decode(clone); err != nil {
					return fmt.Errorf("--clone: %w", err)
				}
			}
			if provider != "" {
				if wantProv, err = peer.Decode(provider); err != nil {
					return fmt.Errorf("--provider: %w", err)
				}
			}
			r, err := scanwire.VerifyReportFrom(b, want, wantProv)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			printScanReport(g, r)
			fmt.Fprintf(g.stdout, "OK: signed by clone %s at %s; every verdict signed by provider %s\n", r.Clone, r.Time, r.Provider)
			if want == "" {
				fmt.Fprintln(g.stdout, "note: the clone was not pinned (--clone): this shows the report is intact, not who made it")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&clone, "clone", "", "the clone's peer ID the report must be signed by")
	cmd.Flags().StringVar(&provider, "provider", "", "the provider's peer ID every verdict must be signed by")
	return cmd
}
