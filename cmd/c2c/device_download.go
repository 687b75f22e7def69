package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/clone2clone/c2c/internal/cli"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/downloader"
	"github.com/clone2clone/c2c/replication/downloads"
	"github.com/clone2clone/c2c/replication/scan"
	"github.com/spf13/cobra"
)

// Files in the device's data dir.
const (
	conditionsFile = "conditions.json" // what c2c device conditions reported
	downloadsDir   = "downloads"       // where pulled downloads are saved by default
)

// builtinScanEngine is the process's one scanner for downloads: the
// built-in EICAR database, in-process (one engine and cache per process,
// shared by every mirror the process runs).
var builtinScanEngine = sync.OnceValue(func() *scan.Engine {
	db, err := scan.NewDB(0)
	if err != nil {
		panic(err) // the built-in database alone cannot fail to compile
	}
	return scan.NewEngine(db, scan.NewCache(4096))
})

// demoDownloadParams: the demo serves its files on loopback.
func demoDownloadParams() downloader.Params {
	p := downloader.DefaultParams()
	p.AllowPrivate = true
	return p
}

func downloadsApp(s *replication.AppSet) *downloads.App {
	a, _ := s.App(downloads.Name)
	return a.(*downloads.App)
}

// openDownloads opens the mirror session of a download command; the
// device's mirror epoch must run the downloads app (an epoch begun before
// it existed does not).
func openDownloads(cmd *cobra.Command, g *globals, f *mirrorFlags) (*mirrorSession, error) {
	m, err := openMirror(cmd, g, f)
	if err != nil {
		return nil, err
	}
	var ok bool
	_ = m.c.View(cmd.Context(), func(s *replication.AppSet) { _, ok = s.App(downloads.Name) })
	if !ok {
		m.close()
		return nil, errors.New("this device's mirror epoch has no downloads app (it began before the app existed); enroll the device again for a new epoch")
	}
	return m, nil
}

func readConditions(dir string) (downloads.Conditions, error) {
	var c downloads.Conditions
	b, err := os.ReadFile(filepath.Join(dir, conditionsFile))
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	return c, err
}

// downloadFlags are the flags of the download commands.
type downloadFlags struct {
	mirrorFlags
	save          string
	allowInfected bool
}

func (f *downloadFlags) add(cmd *cobra.Command) {
	f.mirrorFlags.add(cmd)
	cmd.Flags().StringVar(&f.save, "save", "", "save pulled files into this directory (default: downloads/ in the device's data dir)")
	cmd.Flags().BoolVar(&f.allowInfected, "allow-infected", false, "pull a file even if the clone's scan found a signature in it")
}

// saveName is a local file name for a download: its URL path's last
// element, or its ID.
func saveName(it *downloads.Item) string {
	if u, err := url.Parse(it.URL); err == nil {
		if b := path.Base(u.Path); b != "." && b != "/" && b != ".." && !strings.ContainsAny(b, `\:`) {
			return b
		}
	}
	return "download-" + shortID(it.ID)
}

// pullDownload pulls a cached download from the clone (progress bar,
// every block verified, resumed if cut), records Pulled, and saves it.
func pullDownload(ctx context.Context, g *globals, m *mirrorSession, f *downloadFlags, it *downloads.Item) error {
	if it.Verdict.Infected && !f.allowInfected {
		return fmt.Errorf("download %s is infected (%s, by %s): not pulled (--allow-infected to pull it anyway)", shortID(it.ID), it.Verdict.Name, it.Verdict.By)
	}
	b, err := pullRef(ctx, g, m, &f.mirrorFlags, saveName(it), it.Ref)
	if err != nil {
		return err
	}
	if _, err := m.c.Input(ctx, downloads.Name, downloads.Pulled(it.ID)); err != nil {
		return err
	}
	dir := f.save
	if dir == "" {
		dir = filepath.Join(m.dev.dir, downloadsDir)
	}
	dst := filepath.Join(dir, saveName(it))
	if err := keystore.WriteFile(dst, b); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "pulled %s: %d bytes, sha256:%s, verified, saved to %s\n", shortID(it.ID), len(b), hex.EncodeToString(it.Ref.SHA256[:8]), dst)
	return m.sync(ctx, &f.mirrorFlags)
}

func shortID(id [32]byte) string { return hex.EncodeToString(id[:6]) }

// downloadColumns head c2c device downloads' table.
var downloadColumns = []string{"ID", "STATUS", "WHEN", "BYTES", "VERDICT/STATE", "URL"}

// downloadRow is one download's row: for one the clone is still fetching,
// the bytes it kept so far (asked of the clone).
func downloadRow(ctx context.Context, m *mirrorSession, it *downloads.Item) []string {
	size, verdict := "-", "-"
	if it.Status == downloads.StatusCached || it.Status == downloads.StatusPulled {
		size, verdict = fmt.Sprint(it.Ref.Size), "clean"
		if it.Verdict.Infected {
			verdict = "INFECTED " + it.Verdict.Name
		}
	}
	if it.Status == downloads.StatusFailed {
		verdict = it.Reason
	}
	if it.Status == downloads.StatusRequested {
		if rep, err := downloader.AskProgress(ctx, m.dev.h, m.dev.clone.ID, it.ID); err == nil && rep.State != "unknown" {
			size, verdict = fmt.Sprint(rep.Done), rep.State
			if rep.Total >= 0 {
				size += "/" + fmt.Sprint(rep.Total)
			}
			if rep.Attempts > 1 {
				verdict += fmt.Sprintf(", %d attempts", rep.Attempts)
			}
		}
	}
	return []string{shortID(it.ID), it.Status.String(), it.When.String(), size, verdict, it.URL}
}

// findDownload returns the download whose hex ID starts with prefix.
func findDownload(ctx context.Context, m *mirrorSession, prefix string) (*downloads.Item, error) {
	var list []*downloads.Item
	_ = m.c.View(ctx, func(s *replication.AppSet) { list = downloadsApp(s).List() })
	var found *downloads.Item
	for _, it := range list {
		if len(prefix) >= 4 && strings.HasPrefix(hex.EncodeToString(it.ID[:]), strings.ToLower(prefix)) {
			if found != nil {
				return nil, fmt.Errorf("download ID %q is ambiguous", prefix)
			}
			found = it
		}
	}
	if found == nil {
		return nil, fmt.Errorf("no download %q (c2c device downloads lists them)", prefix)
	}
	return found, nil
}

// pullAllowed pulls every cached download the policy allows under the
// device's conditions.
func pullAllowed(ctx context.Context, g *globals, m *mirrorSession, f *downloadFlags) error {
	cond, err := readConditions(m.dev.dir)
	if err != nil {
		return err
	}
	var list []*downloads.Item
	_ = m.c.View(ctx, func(s *replication.AppSet) { list = downloadsApp(s).List() })
	var errs []error
	for _, it := range list {
		if it.Status == downloads.StatusCached && it.When.Allows(cond) && (!it.Verdict.Infected || f.allowInfected) {
			errs = append(errs, pullDownload(ctx, g, m, f, it))
		}
	}
	return errors.Join(errs...)
}

// waitCached waits until download id is cached or failed on the device,
// drawing the clone's download progress meanwhile.
func waitCached(ctx context.Context, g *globals, m *mirrorSession, f *downloadFlags, id [32]byte, wait time.Duration) (*downloads.Item, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	bar := cli.NewProgress(g.stdout, "clone fetch", f.quiet)
	defer bar.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		var it *downloads.Item
		_ = m.c.View(ctx, func(s *replication.AppSet) { it, _ = downloadsApp(s).Get(id) })
		if it == nil {
			return nil, fmt.Errorf("download %s is not on the device", shortID(id))
		}
		if it.Status != downloads.StatusRequested {
			if it.Status == downloads.StatusCached {
				bar.Update(it.Ref.Size, it.Ref.Size)
			}
			return it, nil
		}
		if rep, err := downloader.AskProgress(ctx, m.dev.h, m.dev.clone.ID, id); err == nil && rep.Total > 0 {
			bar.Update(uint64(rep.Done), uint64(rep.Total))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("download %s: not cached by the clone within %v (c2c device downloads shows it later)", shortID(id), wait)
		case <-t.C:
		}
	}
}

func newDeviceDownloadCmd(g *globals) *cobra.Command {
	var f downloadFlags
	var when string
	var wait bool
	var waitFor time.Duration
	cmd := &cobra.Command{
		Use:   "download URL [--when now|wifi|charge|manual] [--wait]",
		Short: "Have the clone download a URL; the phone pulls it when its policy says",
		Long: `download asks the clone to fetch URL (a user input of the downloads app,
replayed by the clone's mirror). The clone fetches it over HTTP(S) (timeouts,
a size limit, at most 5 redirects, length checks; a cut transfer resumes with
a Range request, and a clone restart resumes from what it kept), stores it in
the mirror's blob store, scans it, and tells the phone "file cached" (CID,
size, SHA-256, verdict) as a network input.

The phone pulls the file from its clone when --when says:
  now     as soon as it is cached
  wifi    when the phone is on Wi-Fi
  charge  when the phone is charging
  manual  only by hand: c2c device downloads --pull-id ID
The phone reports its conditions with c2c device conditions --wifi --charging
(kept in conditions.json in its data dir), which also pulls what became due.
A pull moves only blocks the phone lacks, checks each against its CID before
keeping it, and the whole against the SHA-256; it resumes if cut. An infected
file is not pulled unless --allow-infected.

--wait shows the clone's download progress, then the pull's.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := downloads.ParseWhen(when)
			if err != nil {
				return err
			}
			if err := downloads.CheckURL(args[0]); err != nil {
				return err
			}
			m, err := openDownloads(cmd, g, &f.mirrorFlags)
			if err != nil {
				return err
			}
			defer m.close()
			ctx := cmd.Context()
			outs, err := m.c.Input(ctx, downloads.Name, downloads.Request(args[0], w))
			if err != nil {
				return err
			}
			id := [32]byte(outs[0].Data)
			fmt.Fprintf(g.stdout, "download %s requested (pull: %s)\n", shortID(id), w)
			if err := m.sync(ctx, &f.mirrorFlags); err != nil || !wait {
				return err
			}
			it, err := waitCached(ctx, g, m, &f, id, waitFor)
			if err != nil {
				return err
			}
			if it.Status == downloads.StatusFailed {
				return fmt.Errorf("download %s failed on the clone: %s (c2c device downloads --retry %s)", shortID(id), it.Reason, shortID(id))
			}
			fmt.Fprintf(g.stdout, "cached by the clone: %d bytes, %s, %s\n", it.Ref.Size, it.Ref.CID, verdictText(it.Verdict))
			cond, err := readConditions(m.dev.dir)
			if err != nil {
				return err
			}
			if !w.Allows(cond) {
				fmt.Fprintf(g.stdout, "not pulled yet: policy %s, conditions wifi=%v charging=%v\n", w, cond.WiFi, cond.Charging)
				return nil
			}
			return pullDownload(ctx, g, m, &f, it)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&when, "when", "now", "when the phone pulls the cached file: now, wifi, charge or manual")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the clone to cache it (showing its progress), then pull it if the policy allows")
	cmd.Flags().DurationVar(&waitFor, "wait-timeout", 10*time.Minute, "with --wait: how long to wait for the clone")
	return cmd
}

func verdictText(v downloads.Verdict) string {
	if v.Infected {
		return fmt.Sprintf("INFECTED: %s (%s, signatures v%d)", v.Name, v.By, v.DBVersion)
	}
	return fmt.Sprintf("clean (signatures v%d)", v.DBVersion)
}

func newDeviceDownloadsCmd(g *globals) *cobra.Command {
	var f downloadFlags
	var pull bool
	var pullID, retry, forget string
	cmd := &cobra.Command{
		Use:   "downloads [--pull] [--pull-id ID] [--retry ID] [--forget ID]",
		Short: "List the phone's downloads (status, size, verdict), and pull, retry or forget them",
		Long: `downloads syncs with the clone and lists every download: its ID, status
(requested: the clone is fetching it; cached: the clone holds it; failed;
pulled: the phone holds it), pull policy, size, the clone's scan verdict and
URL; for a download the clone is still fetching, the bytes it kept so far.

  --pull        pull every cached download the policy allows now, under the
                conditions c2c device conditions recorded
  --pull-id ID  pull one by hand, whatever its policy (ID: a prefix of 4+ hex)
  --retry ID    ask the clone to fetch a failed download again
  --forget ID   remove a download from the list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := openDownloads(cmd, g, &f.mirrorFlags)
			if err != nil {
				return err
			}
			defer m.close()
			ctx := cmd.Context()
			if err := m.sync(ctx, &f.mirrorFlags); err != nil {
				return err
			}
			for _, op := range []struct {
				id  string
				in  func([32]byte) []byte
				say string
			}{{retry, downloads.Retry, "retried"}, {forget, downloads.Forget, "forgotten"}} {
				if op.id == "" {
					continue
				}
				it, err := findDownload(ctx, m, op.id)
				if err != nil {
					return err
				}
				if _, err := m.c.Input(ctx, downloads.Name, op.in(it.ID)); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "download %s %s\n", shortID(it.ID), op.say)
				if err := m.sync(ctx, &f.mirrorFlags); err != nil {
					return err
				}
			}
			if pullID != "" {
				it, err := findDownload(ctx, m, pullID)
				if err != nil {
					return err
				}
				if it.Status != downloads.StatusCached {
					return fmt.Errorf("download %s is %s, not cached", shortID(it.ID), it.Status)
				}
				if err := pullDownload(ctx, g, m, &f, it); err != nil {
					return err
				}
			}
			if pull {
				if err := pullAllowed(ctx, g, m, &f); err != nil {
					return err
				}
			}
			var list []*downloads.Item
			_ = m.c.View(ctx, func(s *replication.AppSet) { list = downloadsApp(s).List() })
			row := func(r []string) {
				fmt.Fprintf(g.stdout, "%-12s  %-9s  %-6s  %10s  %-28s  %s\n", r[0], r[1], r[2], r[3], r[4], r[5])
			}
			row(downloadColumns)
			for _, it := range list {
				row(downloadRow(ctx, m, it))
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&pull, "pull", false, "pull every cached download the pull policy allows under the phone's conditions")
	cmd.Flags().StringVar(&pullID, "pull-id", "", "pull this download by hand (an ID prefix)")
	cmd.Flags().StringVar(&retry, "retry", "", "fetch this failed download again (an ID prefix)")
	cmd.Flags().StringVar(&forget, "forget", "", "remove this download from the list (an ID prefix)")
	return cmd
}

func newDeviceConditionsCmd(g *globals) *cobra.Command {
	var f downloadFlags
	var c downloads.Conditions
	cmd := &cobra.Command{
		Use:   "conditions [--wifi[=false]] [--charging[=false]]",
		Short: "Report the phone's conditions (Wi-Fi, charging) for its download pull policy, and pull what became due",
		Long: `conditions records what the phone reports of itself, for the pull policy of
its downloads (c2c device download --when wifi|charge): on a phone the OS
tells it; here you do. The flags given change the recorded conditions
(conditions.json in the device's data dir); the others stay. Then it
connects and pulls every cached download the policy now allows.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dataDir("device")
			if err != nil {
				return err
			}
			cur, err := readConditions(dir)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("wifi") {
				cur.WiFi = c.WiFi
			}
			if cmd.Flags().Changed("charging") {
				cur.Charging = c.Charging
			}
			b, _ := json.Marshal(cur)
			if err := keystore.WriteFile(filepath.Join(dir, conditionsFile), append(b, '\n')); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "conditions: wifi=%v charging=%v\n", cur.WiFi, cur.Charging)
			m, err := openDownloads(cmd, g, &f.mirrorFlags)
			if err != nil {
				return err
			}
			defer m.close()
			if err := m.sync(cmd.Context(), &f.mirrorFlags); err != nil {
				return err
			}
			return pullAllowed(cmd.Context(), g, m, &f)
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&c.WiFi, "wifi", false, "the phone is on Wi-Fi")
	cmd.Flags().BoolVar(&c.Charging, "charging", false, "the phone is charging")
	return cmd
}
